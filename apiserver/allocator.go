package apiserver

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/shepherd-lab/shepherd/storage"
)

// ipAllocator hands out service cluster IPs from a range. Uniqueness is not
// its job: each IP is a storage claim taken in the same transaction as the
// service, so two services can never hold one IP however the allocator
// guesses. It only proposes candidates: random ones first, and once those
// collide, one that the claims listed in etcd show free.
type ipAllocator struct {
	store  *storage.Store
	prefix netip.Prefix
	first  uint32 // first allocatable address, as a number
	size   uint32 // number of allocatable addresses
}

func newIPAllocator(store *storage.Store, cidr *net.IPNet) (*ipAllocator, error) {
	if cidr == nil {
		return nil, fmt.Errorf("no service cluster IP range")
	}
	ones, bits := cidr.Mask.Size()
	ip4 := cidr.IP.To4()
	if ip4 == nil || bits != 32 {
		return nil, fmt.Errorf("service cluster IP range %s: only IPv4 ranges are supported", cidr)
	}
	if ones > 29 {
		return nil, fmt.Errorf("service cluster IP range %s is too small", cidr)
	}
	base := binary.BigEndian.Uint32(ip4)
	total := uint32(1) << (32 - ones)
	// Skip the network address and the first host address (the
	// `kubernetes` service's, by Kubernetes' convention), and the
	// broadcast address.
	return &ipAllocator{
		store:  store,
		prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte(ip4)), ones),
		first:  base + 2,
		size:   total - 3,
	}, nil
}

func (a *ipAllocator) String() string { return a.prefix.String() }

// contains reports whether ip is in the range.
func (a *ipAllocator) contains(ip string) bool {
	addr, err := netip.ParseAddr(ip)
	return err == nil && a.prefix.Contains(addr)
}

func (a *ipAllocator) addr(n uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return netip.AddrFrom4(b).String()
}

// candidate proposes an IP. Early attempts guess; later ones consult etcd.
func (a *ipAllocator) candidate(ctx context.Context, attempt int) (string, error) {
	if attempt < 3 {
		return a.addr(a.first + rand.Uint32N(a.size)), nil
	}
	claims, err := a.store.ListClaims(ctx, "serviceips/")
	if err != nil {
		return "", err
	}
	taken := make(map[string]bool, len(claims))
	for _, c := range claims {
		taken[strings.TrimPrefix(c, "serviceips/")] = true
	}
	start := rand.Uint32N(a.size)
	for i := uint32(0); i < a.size; i++ {
		ip := a.addr(a.first + (start+i)%a.size)
		if !taken[ip] {
			return ip, nil
		}
	}
	return "", fmt.Errorf("failed to allocate a serviceIP: range %s is full", a.prefix)
}

// portAllocator proposes node ports the same way.
type portAllocator struct {
	store      *storage.Store
	base, size int
}

func newPortAllocator(store *storage.Store, base, size int) (*portAllocator, error) {
	if base <= 0 || size <= 0 || base+size-1 > 65535 {
		return nil, fmt.Errorf("invalid node port range %d-%d", base, base+size-1)
	}
	return &portAllocator{store: store, base: base, size: size}, nil
}

func (a *portAllocator) String() string {
	return fmt.Sprintf("%d-%d", a.base, a.base+a.size-1)
}

func (a *portAllocator) contains(port int32) bool {
	return int(port) >= a.base && int(port) < a.base+a.size
}

func (a *portAllocator) candidate(ctx context.Context, attempt int, exclude map[int32]bool) (int32, error) {
	if attempt < 3 {
		for range 16 {
			p := int32(a.base + rand.IntN(a.size))
			if !exclude[p] {
				return p, nil
			}
		}
	}
	claims, err := a.store.ListClaims(ctx, "servicenodeports/")
	if err != nil {
		return 0, err
	}
	taken := make(map[int32]bool, len(claims))
	for _, c := range claims {
		if n, err := strconv.Atoi(strings.TrimPrefix(c, "servicenodeports/")); err == nil {
			taken[int32(n)] = true
		}
	}
	start := rand.IntN(a.size)
	for i := range a.size {
		p := int32(a.base + (start+i)%a.size)
		if !taken[p] && !exclude[p] {
			return p, nil
		}
	}
	return 0, fmt.Errorf("failed to allocate a nodePort: range %s is full", a)
}
