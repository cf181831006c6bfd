package container

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// identity is the resolved user a process runs as.
type identity struct {
	UID, GID uint32
	Groups   []uint32 // supplementary
	Home     string
}

// resolveUser resolves a Process's user against the container's own
// /etc/passwd and /etc/group, as Docker and containerd do: a name must exist;
// a number need not; the primary group defaults to the passwd entry's (or
// 0 when there is no entry, as containerd's WithUserID), and the supplementary groups
// are the primary group, the user's memberships in /etc/group and
// AdditionalGids.
func resolveUser(p *Process, passwd, group io.Reader) (identity, error) {
	users := parseColonFile(passwd, false)
	groups := parseColonFile(group, true)
	id := identity{Home: "/"}
	userPart, groupPart, _ := strings.Cut(p.User, ":")
	name := ""
	switch {
	case p.UID != nil:
		id.UID = *p.UID
		if e := lookup(users, "", id.UID); e != nil {
			name, id.GID, id.Home = e.name, e.gid, e.home
		}
	case userPart == "":
		if e := lookup(users, "", 0); e != nil {
			name, id.GID, id.Home = e.name, e.gid, e.home
		} else {
			name, id.Home = "root", "/root"
		}
	default:
		if n, err := strconv.ParseUint(userPart, 10, 32); err == nil {
			id.UID = uint32(n)
			if e := lookup(users, "", id.UID); e != nil {
				name, id.GID, id.Home = e.name, e.gid, e.home
			}
		} else {
			e := lookup(users, userPart, 0)
			if e == nil {
				return id, fmt.Errorf("user %q: no such user in the image's /etc/passwd", userPart)
			}
			name, id.UID, id.GID, id.Home = e.name, e.uid, e.gid, e.home
		}
	}
	switch {
	case p.GID != nil:
		id.GID = *p.GID
	case groupPart != "":
		if n, err := strconv.ParseUint(groupPart, 10, 32); err == nil {
			id.GID = uint32(n)
		} else {
			g := lookup(groups, groupPart, 0)
			if g == nil {
				return id, fmt.Errorf("group %q: no such group in the image's /etc/group", groupPart)
			}
			id.GID = g.uid
		}
	}
	// The primary group is listed too, as containerd does, so dropping
	// to it never loses access a group check would grant.
	seen := map[uint32]bool{id.GID: true}
	id.Groups = append(id.Groups, id.GID)
	if name != "" {
		for _, g := range groups {
			for _, m := range strings.Split(g.members, ",") {
				if m == name && !seen[g.uid] {
					seen[g.uid] = true
					id.Groups = append(id.Groups, g.uid)
				}
			}
		}
	}
	for _, g := range p.AdditionalGids {
		if !seen[g] {
			seen[g] = true
			id.Groups = append(id.Groups, g)
		}
	}
	return id, nil
}

// entry is a line of /etc/passwd (name:x:uid:gid:gecos:home:shell) or of
// /etc/group (name:x:gid:members), the gid then in uid.
type entry struct {
	name    string
	uid     uint32
	gid     uint32
	home    string
	members string
}

func parseColonFile(r io.Reader, isGroup bool) []entry {
	if r == nil {
		return nil
	}
	var out []entry
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		id, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		e := entry{name: f[0], uid: uint32(id)}
		if len(f) >= 4 {
			if isGroup {
				e.members = f[3]
			} else if g, err := strconv.ParseUint(f[3], 10, 32); err == nil {
				e.gid = uint32(g)
			}
		}
		if !isGroup && len(f) >= 6 {
			e.home = f[5]
		}
		out = append(out, e)
	}
	return out
}

func lookup(entries []entry, name string, id uint32) *entry {
	for i := range entries {
		if (name != "" && entries[i].name == name) || (name == "" && entries[i].uid == id) {
			return &entries[i]
		}
	}
	return nil
}

func openOrNil(path string) io.Reader {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	// The init stage execs soon after; the fd is O_CLOEXEC.
	return f
}
