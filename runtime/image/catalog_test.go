package image

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func testID(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

// testCatalog holds three images: busybox with a tag and its digest name,
// app with two tags, and a dangling one.
func testCatalog() *catalog {
	c := newCatalog()
	c.put(&Image{ID: testID('a'), RepoTags: []string{"docker.io/library/busybox:latest"}, RepoDigests: []string{"docker.io/library/busybox@" + testID('d')}})
	c.put(&Image{ID: testID('b'), RepoTags: []string{"quay.io/x/app:v1", "quay.io/x/app:v2"}})
	c.put(&Image{ID: "sha256:ab" + strings.Repeat("0", 62)})
	return c
}

func TestCatalogResolve(t *testing.T) {
	c := testCatalog()
	tests := []struct {
		ref    string
		wantID string // "" for ErrNotFound
		ambig  bool
	}{
		{ref: "busybox", wantID: testID('a')},
		{ref: "docker.io/library/busybox:latest", wantID: testID('a')},
		{ref: "busybox@" + testID('d'), wantID: testID('a')},
		{ref: "quay.io/x/app:v2", wantID: testID('b')},
		{ref: testID('b'), wantID: testID('b')},
		{ref: strings.TrimPrefix(testID('b'), "sha256:"), wantID: testID('b')},
		{ref: "bbbbbbbbbbbb", wantID: testID('b')},
		{ref: "sha256:bbbbbbbbbbbb", wantID: testID('b')},
		{ref: "sha256:bbbbbbbbbbb"}, // 11 digits: too short for a prefix
		{ref: "bbbbbbbbbbb"},
		{ref: "aaaaaaaaaaaa", wantID: testID('a')},
		{ref: "ab0000000000", wantID: "sha256:ab" + strings.Repeat("0", 62)},
		{ref: "busybox:other"},
		{ref: "quay.io/x/app"},
		{ref: "sha256:cccccccccccc"},
		{ref: "Not A Ref"},
	}
	for _, tt := range tests {
		img, err := c.resolve(tt.ref)
		switch {
		case tt.wantID == "":
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("resolve(%q) = %v, %v; want ErrNotFound", tt.ref, img, err)
			}
		case err != nil || img.ID != tt.wantID:
			t.Errorf("resolve(%q) = %v, %v; want %s", tt.ref, img, err, tt.wantID)
		}
	}

	c.put(&Image{ID: "sha256:" + strings.Repeat("a", 12) + strings.Repeat("f", 52)})
	if _, err := c.resolve("aaaaaaaaaaaa"); err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "more than one") {
		t.Errorf("resolve(ambiguous prefix) = %v, want an ambiguity error", err)
	}
}

func TestCatalogRemove(t *testing.T) {
	tests := []struct {
		name     string
		remove   []string
		wantIDs  []string
		wantTags map[string][]string
	}{
		{name: "last tag takes the record and its digest", remove: []string{"busybox"}, wantIDs: []string{testID('b'), dangling}},
		{name: "one of two tags", remove: []string{"quay.io/x/app:v1"}, wantIDs: []string{testID('a'), testID('b'), dangling},
			wantTags: map[string][]string{testID('b'): {"quay.io/x/app:v2"}}},
		{name: "both tags", remove: []string{"quay.io/x/app:v1", "quay.io/x/app:v2"}, wantIDs: []string{testID('a'), dangling}},
		{name: "digest name keeps a tagged image", remove: []string{"busybox@" + testID('d')}, wantIDs: []string{testID('a'), testID('b'), dangling},
			wantTags: map[string][]string{testID('a'): {"docker.io/library/busybox:latest"}}},
		{name: "by ID", remove: []string{testID('b')}, wantIDs: []string{testID('a'), dangling}},
		{name: "by ID prefix", remove: []string{"bbbbbbbbbbbb"}, wantIDs: []string{testID('a'), dangling}},
		{name: "dangling by ID", remove: []string{dangling}, wantIDs: []string{testID('a'), testID('b')}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCatalog()
			for _, r := range tt.remove {
				if err := c.remove(r); err != nil {
					t.Fatalf("remove(%q): %v", r, err)
				}
			}
			var ids []string
			for _, img := range c.list() {
				ids = append(ids, img.ID)
				if want, ok := tt.wantTags[img.ID]; ok && !slices.Equal(img.RepoTags, want) {
					t.Errorf("%s: tags %v, want %v", img.ID, img.RepoTags, want)
				}
			}
			slices.Sort(ids)
			slices.Sort(tt.wantIDs)
			if !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("images left = %v, want %v", ids, tt.wantIDs)
			}
		})
	}
	if err := testCatalog().remove("nothing:here"); !errors.Is(err, ErrNotFound) {
		t.Errorf("remove(unknown) = %v, want ErrNotFound", err)
	}
}

var dangling = "sha256:ab" + strings.Repeat("0", 62)

func TestCatalogTagMoves(t *testing.T) {
	c := testCatalog()
	// busybox:latest now means a newer image: the old one keeps no names.
	c.put(&Image{ID: testID('e'), RepoTags: []string{"docker.io/library/busybox:latest"}, RepoDigests: []string{"docker.io/library/busybox@" + testID('f')}})
	old, err := c.resolve(testID('a'))
	if err != nil {
		t.Fatal(err)
	}
	if len(old.RepoTags) != 0 || len(old.RepoDigests) != 0 {
		t.Errorf("old image names = %v %v; want none (dangling)", old.RepoTags, old.RepoDigests)
	}
	// Pulling the same image by another name adds the name.
	c.put(&Image{ID: testID('e'), RepoTags: []string{"docker.io/library/busybox:1"}})
	img, _ := c.resolve("busybox:1")
	if img == nil || !slices.Equal(img.RepoTags, []string{"docker.io/library/busybox:1", "docker.io/library/busybox:latest"}) {
		t.Errorf("tags after a second name = %v", img)
	}

	var order []string
	for _, img := range c.list() {
		order = append(order, img.ID)
	}
	// Tagged images first, by first tag, then untagged by ID.
	want := []string{testID('e'), testID('b'), testID('a'), dangling}
	slices.Sort(want[2:])
	if !slices.Equal(order, want) {
		t.Errorf("list order = %v, want %v", order, want)
	}
}
