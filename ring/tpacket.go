package ring

import (
	"encoding/binary"
	"unsafe"
)

// Layout of the TPACKET_V3 ring (linux/if_packet.h). A block starts with a
// tpacket_block_desc: version, offset to private area, then the
// tpacket_hdr_v1 whose fields are given here as offsets from the block start.
const (
	blkStatusOff   = 8  // block_status (u32): TP_STATUS_KERNEL or TP_STATUS_USER
	blkNumPktsOff  = 12 // num_pkts (u32)
	blkFirstPktOff = 16 // offset_to_first_pkt (u32)
)

// Offsets in a struct tpacket3_hdr and the sockaddr_ll that follows it.
const (
	hdrNextOff    = 0  // tp_next_offset (u32)
	hdrSecOff     = 4  // tp_sec (u32)
	hdrNsecOff    = 8  // tp_nsec (u32)
	hdrSnaplenOff = 12 // tp_snaplen (u32)
	hdrLenOff     = 16 // tp_len (u32)
	hdrStatusOff  = 20 // tp_status (u32)
	hdrMacOff     = 24 // tp_mac (u16)
	hdrVLANTCIOff = 32 // hv1.tp_vlan_tci (u32)
	hdrVLANTPOff  = 36 // hv1.tp_vlan_tpid (u16)
	hdrLen        = 48 // TPACKET_ALIGN(sizeof(struct tpacket3_hdr))
	sllIfindexOff = hdrLen + 4
	sllPktTypeOff = hdrLen + 10
	sllLen        = 20
)

// tp_status bits of a packet.
const (
	statusVLANValid     = 0x10
	statusVLANTPIDValid = 0x40
)

// Data in the ring is in host byte order. Every Linux target Go supports
// for this package is little-endian except s390x, ppc64 and mips(64);
// nativeEndian picks at init.
var nativeEndian binary.ByteOrder = func() binary.ByteOrder {
	x := uint16(1)
	if *(*byte)(unsafe.Pointer(&x)) == 1 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}()
