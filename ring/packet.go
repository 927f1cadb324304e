package ring

// Packet is one captured packet as Ring.Next returns it. Data is a view into
// the ring, valid until the next call to Next on the same Ring.
type Packet struct {
	Data      []byte // captured bytes (at most the snap length)
	Timestamp int64  // ns since the epoch, the kernel's receive time
	OrigLen   int    // length of the frame Data is a prefix of (with the tag when written back)
	Ifindex   int    // interface the packet was seen on
	PktType   uint8  // PACKET_HOST, PACKET_OUTGOING, ... (linux/if_packet.h)

	// VLANTCI is the tag control information of a VLAN tag the kernel
	// stripped (valid when HasVLAN), VLANTPID its TPID (0x8100 when the
	// kernel did not say). Unless Config.KeepVLANStripped, the tag is also
	// back in Data.
	HasVLAN  bool
	VLANTCI  uint16
	VLANTPID uint16
}

// Packet types of Packet.PktType (linux/if_packet.h).
const (
	PacketHost      uint8 = 0 // to us
	PacketBroadcast uint8 = 1
	PacketMulticast uint8 = 2
	PacketOtherHost uint8 = 3 // to someone else (promiscuous)
	PacketOutgoing  uint8 = 4 // sent by this host
)

// Outgoing reports whether the packet was sent by this host.
func (p *Packet) Outgoing() bool { return p.PktType == PacketOutgoing }

// VLANID is the 12-bit VLAN ID of the stripped tag.
func (p *Packet) VLANID() uint16 { return p.VLANTCI & 0x0fff }
