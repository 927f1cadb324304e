package linktype

import "testing"

func TestString(t *testing.T) {
	for typ, want := range map[Type]string{
		Ethernet: "ETHERNET", LinuxSLL: "LINUX_SLL", LinuxSLL2: "LINUX_SLL2", Raw: "RAW", RawDLT12: "RAW",
		Null: "NULL", IPv6: "IPV6", 147: "LINKTYPE_147",
	} {
		if got := typ.String(); got != want {
			t.Errorf("Type(%d).String() = %q, want %q", typ, got, want)
		}
	}
}
