package idempotency_test

import (
	"math"
	"math/big"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idempotency-go/idempotency"
)

// The goldens pin the key format: a key derived today must be the key
// derived by every later release, or records stored before an upgrade are
// missed after it and their calls run again. A change to a golden is a
// change to the key format; it needs a reason and a note in docs/keys.md.

type (
	gMyInt    int
	gMyString string
	gMyBytes  []byte
	gMyByte   byte
	gMyFloat  float64
	gMyMap    map[string]int
	gMySlice  []string
)

// gText has its own MarshalText (value receiver): it stands for the value.
type gText struct{ A, B int }

func (t gText) MarshalText() ([]byte, error) { return []byte("text"), nil }

// gPtrText has MarshalText on the pointer only, like big.Float.
type gPtrText struct{ A int }

func (t *gPtrText) MarshalText() ([]byte, error) { return []byte("ptr-text"), nil }

type gTextInt int

func (t gTextInt) MarshalText() ([]byte, error) { return []byte("int-text"), nil }

type gOrder struct {
	ID       string
	Amount   int64
	Currency string
	Items    []gItem
	Meta     map[string]any
	When     time.Time
	Note     *string
	Retry    int `idempotency:"-"`
	internal float32
}

type gItem struct {
	SKU string
	Qty uint16
}

type gHiddenText struct{ t gText }

type goldenCase struct {
	name string
	args []any
	want string
}

// goldenUnchanged are keys as they were before the encoder stopped using
// promoted methods and started treating defined time types as instants:
// none of these values involves either, and none may change.
func goldenUnchanged() []goldenCase {
	note := "n"
	when := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	ip := net.ParseIP("192.0.2.1")
	return []goldenCase{
		{"NoArgs", nil, "g:qz-uTgJPY7LTLQpsOBg12EX1S8choWcn_aS_OrXx9wY"},
		{"Nil", []any{nil}, "g:IiR9iTw93u1A9zcaN5ZeVpZFy0W9QFIDpwtaUOtqE6o"},
		{"Bools", []any{true, false}, "g:zZFJJv02akh_yjp9nyYuu02_hmuzhdWbcoYTHmwfwwQ"},
		{"Ints", []any{0, -1, 1, math.MaxInt64, math.MinInt64, int8(-128), uint64(math.MaxUint64)}, "g:sWpzyGeJpF1YoTZWlXiPZhxfo_WTOKoiyjsOnffw8C8"},
		{"Floats", []any{0.0, -1.5, math.Inf(1), math.Inf(-1), float32(0.25), math.SmallestNonzeroFloat64}, "g:Dr8MdxvUKKlxKyq31zE2WO-kXdWCk8BVfY7zVGRq0_w"},
		{"Complex", []any{complex(1, -2), complex64(0)}, "g:z2xQWa1j0l4e0i0gARi5Orc3ZUP-I44KmsT45haNKyc"},
		{"Strings", []any{"", "a", "café", "\x00\xff", "a/b"}, "g:tJUR0TSM77rcAETChZVJqNlY8GCBe4g8cLOmfgC_cm0"},
		{"Bytes", []any{[]byte(nil), []byte{}, []byte("abc"), [3]byte{1, 2, 3}}, "g:C-sPBSibyZ2F8m3wEffwlkuBUoqJO_G8sOl09winPpA"},
		{"Lists", []any{[]int{1, 2, 3}, []any{"x", 1, nil}, [2]string{"a", "b"}, [][]int{{1}, {}}}, "g:TPLI8JqC2Ss_VKebHwC3W1hogunmqQSk1QM8e1RZJ_M"},
		{"Maps", []any{map[string]int{"b": 2, "a": 1}, map[int]string{}, map[string]any(nil), map[any]any{1: "x", "1": 2}}, "g:_tQwnWN8RUCJRyMjIRyyUdj15YSa8jUPmQbYQoiF2II"},
		{"Pointers", []any{&note, (*int)(nil), new(int)}, "g:SbOSCbV9bn3YcqTlyLAJqpF9aFIip-k11eT_uBMGCbM"},
		{"Time", []any{when, time.Time{}, time.Unix(-1, 0)}, "g:O8afvVoti0557iA-qytMsZacfg1I_G0QoEYVvIYrYkM"},
		{"DefinedScalars", []any{gMyInt(3), gMyString("s"), gMyFloat(2.5), gMyBytes("xy"), []gMyByte{1, 2}}, "g:pzTAhcAA1Q4fjMA9Zc0voLOdG6rv-JtN54tDf0JFmAg"},
		{"DefinedComposites", []any{gMyMap{"k": 1}, gMySlice{"a"}}, "g:CYQloRLCR6JSFxf6pUFV9_9VZDMtSV9lwZEV8tC5YkY"},
		{"OwnTextMarshaler", []any{gText{1, 2}, &gText{3, 4}, gTextInt(5), []gTextInt{1}}, "g:IaKfSKFpIHtK6NoD-JVPGUvtIPKMDkZwBoKU-1Qxb_0"},
		{"PointerReceiverText", []any{gPtrText{7}, &gPtrText{7}}, "g:LqEXjYCUDximRfBPMkeFfBP2wAN8O_LUazENeAI2tzc"},
		{"HiddenTextMarshaler", []any{gHiddenText{gText{1, 2}}}, "g:me-Ot5E3dAixZfM4zbaSpng0Yjasy4Hm2EKhOsrewjU"},
		{"StdTextMarshalers", []any{ip, netip.MustParseAddr("2001:db8::1"), netip.MustParsePrefix("10.0.0.0/8")}, "g:Z_LMd6P9x2obGJkjBM2JT2ASriI6_961dbapE-CbbDo"},
		{"StdStructs", []any{url.URL{Scheme: "https", Host: "example.com", Path: "/a"}}, "g:Al52P6ME55jJ1l-C1E3w4dZIR-7TqdG0Mtxh28K1Y00"},
		{"BigInt", []any{big.NewInt(-12345), new(big.Int).Lsh(big.NewInt(1), 100), *big.NewInt(7)}, "g:IIfzwvc_k2oZsE80j4PF6GykDxwsfG3pSV_EOytxNWE"},
		{"BigFloat", []any{big.NewFloat(1.5), new(big.Float).SetPrec(200).SetInt64(3)}, "g:sNcpdetfqyCZSGoW8b5bub4Af7BAv6xKCIylmr1_xp0"},
		{"BigRat", []any{big.NewRat(3, 4)}, "g:342MfGhkrA8Waqg9nabJW_bVGDPl8oQmpA_AXS1h60w"},
		{"Duration", []any{time.Second, time.Duration(0)}, "g:By3Nc7Sa9MFqwm6IIRA9AOAH6g--oTzvW1K2Mh7xPqQ"},
		{"Order", []any{gOrder{ID: "o1", Amount: 1999, Currency: "EUR",
			Items: []gItem{{"sku-1", 2}, {"sku-2", 1}}, Meta: map[string]any{"src": "web", "n": 1.5},
			When: when, Note: &note, Retry: 3, internal: 0.5}}, "g:SceTpOKxKU6uUmYve1zJpqJBva3lB1A0S07lAcmdz5c"},
		{"AnonymousStruct", []any{struct {
			A int
			b string
		}{1, "x"}}, "g:9kv1o039ICcD1MG87GSCRlOIF-UgGKKkK-CU8FE9emQ"},
		{"DefinedTimeOwnText", []any{gStampText(time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC))}, "g:j5WkZHwXBR3ZrifXfUeY_DPfdwYYW3gOn3RZLqYln5o"},
		{"NestedInterfaces", []any{map[string]any{"l": []any{map[string]any{"t": when}}}}, "g:tcDFeRwFNrOt2TCQD2SCM6dci7u_Eoe6y_OPvQ8-lEE"},
	}
}

func TestKeyGoldenUnchanged(t *testing.T) {
	t.Parallel()
	testGoldens(t, goldenUnchanged())
}

func testGoldens(t *testing.T, cases []goldenCase) {
	t.Helper()
	for _, tc := range cases {
		if strings.HasPrefix(tc.name, "Big") && strconv.IntSize != 64 {
			continue // math/big values encode their words, whose size is the platform's
		}
		k, err := idempotency.Key("g", tc.args...)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if k != tc.want {
			t.Errorf("%s: key %s, want %s", tc.name, k, tc.want)
		}
	}
}

type (
	gStamp     time.Time
	gStampText time.Time
	gStampPtr  *time.Time
)

// gStampText declares its own MarshalText: it stands for the value, before
// the instant rule.
func (s gStampText) MarshalText() ([]byte, error) {
	return []byte(time.Time(s).UTC().Format(time.DateOnly)), nil
}

type gEmbedTime struct {
	time.Time
	Amount int
}

type gEmbedIP struct {
	net.IP
	Port int
}

type gEmbedFloat struct {
	*big.Float
	Unit string
}

type gOwnOverEmbedded struct {
	time.Time
	Amount int
}

func (o gOwnOverEmbedded) MarshalText() ([]byte, error) { return []byte("own"), nil }

// goldenDecisions pin what the encoder does where a special case meets a
// defined type, an embedded field or a pointer receiver. Keys of the
// embedding structs and of defined time types changed when these rules
// came in (see docs/keys.md): before, a struct embedding time.Time was its
// time alone, and a defined time type encoded its location and monotonic
// reading.
func goldenDecisions() []goldenCase {
	when := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	return []goldenCase{
		// Times are instants whatever their named type.
		{"DefinedTime", []any{gStamp(when)}, "g:h7K4_tY0niU9sGwkRp66yvSUOLyWOGZp9fzuxO05lig"},
		{"DefinedTimePointer", []any{gStampPtr(&when)}, "g:h7K4_tY0niU9sGwkRp66yvSUOLyWOGZp9fzuxO05lig"},
		// A struct is its fields, whatever it embeds.
		{"EmbeddedTime", []any{gEmbedTime{when, 5}}, "g:2Lv1sCCwi5gaTFilnQBYWeiOetthqa6TYyyrcHR19MY"},
		{"EmbeddedIP", []any{gEmbedIP{net.ParseIP("192.0.2.1"), 443}}, "g:ggGS1oqAh-ezbKoh8dgrm0Rn7jvzF5ZiMsEbLkKlpYs"},
		{"BigFloatEmbedded", []any{gEmbedFloat{big.NewFloat(2.5), "kg"}}, "g:nzDWJWQBPFWCMzpUk8nOXhAvLFOb7TQuhGhLBJkB4m8"},
		// A type's own method stands for it, even over an embedded one.
		{"OwnOverEmbedded", []any{gOwnOverEmbedded{when, 5}}, "g:pxoVmGopmecI5pbkqxv_jDywNn1K0N_1w9BFh-kB9PQ"},
	}
}

func TestKeyGoldenDecisions(t *testing.T) {
	t.Parallel()
	testGoldens(t, goldenDecisions())
}
