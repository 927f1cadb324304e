package netlab

import "encoding/binary"

// Message encoding of the nfnetlink_queue client (see nfqueue_linux.go):
// pure byte handling, testable anywhere.

const (
	nfqMsgPacket  = 0 // kernel -> us: a queued packet
	nfqMsgVerdict = 1 // us -> kernel: verdict for one packet id
	nfqMsgConfig  = 2 // us -> kernel: bind / parameters

	nfqCfgCmd    = 1 // struct nfqnl_msg_config_cmd
	nfqCfgParams = 2 // struct nfqnl_msg_config_params
	nfqCfgMaxLen = 3 // be32 queue length

	nfqCmdBind   = 1
	nfqCmdUnbind = 2

	nfqCopyPacket = 2

	nfqaPacketHdr  = 1 // struct nfqnl_msg_packet_hdr: be32 id, be16 proto, u8 hook
	nfqaVerdictHdr = 2 // struct nfqnl_msg_verdict_hdr: be32 verdict, be32 id
	nfqaIfIndexIn  = 5
	nfqaPayload    = 10

	nfDrop   = 0
	nfAccept = 1

	nlmsgHdrLen = 16
	nfgenHdrLen = 4
)

// nfqPacket is one packet handed to us by the kernel. Payload starts at the
// IP header and aliases the receive buffer: copy what must outlive the call.
type nfqPacket struct {
	ID      uint32
	InDev   uint32
	Payload []byte
}

// attr encodes one netlink attribute, padded to 4 bytes.
func attr(typ uint16, val []byte) []byte {
	n := 4 + len(val)
	b := make([]byte, (n+3)&^3)
	binary.NativeEndian.PutUint16(b, uint16(n))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[4:], val)
	return b
}

// parsePacketMsg walks the attributes of one packet message.
func parsePacketMsg(b []byte) (nfqPacket, bool) {
	var p nfqPacket
	haveID := false
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) & 0x3fff // strip NESTED/BYTEORDER bits
		if l < 4 || l > len(b) {
			break
		}
		v := b[4:l]
		switch typ {
		case nfqaPacketHdr:
			if len(v) >= 4 {
				p.ID = binary.BigEndian.Uint32(v)
				haveID = true
			}
		case nfqaIfIndexIn:
			if len(v) >= 4 {
				p.InDev = binary.BigEndian.Uint32(v)
			}
		case nfqaPayload:
			p.Payload = v
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return p, haveID
}
