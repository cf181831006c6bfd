package storage

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the store returns for one of these conditions
// wraps the sentinel with the key of the object concerned, so callers test
// with errors.Is and users read which object it was.
var (
	// ErrNotFound: no object is stored at the key.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a create found an object already stored at the key.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the object changed since the revision the write was based
	// on, or a precondition (uid, resourceVersion) did not hold.
	ErrConflict = errors.New("the object has been modified")
	// ErrExpired: the requested revision has been compacted away.
	ErrExpired = errors.New("resource version too old (compacted)")
	// ErrFutureRevision: the requested revision is newer than etcd's.
	ErrFutureRevision = errors.New("resource version is newer than the store's")
	// ErrClaimed: the object claims a unique key another object holds. The
	// error is a *ClaimedError naming the claim.
	ErrClaimed = errors.New("already claimed")
	// ErrInvalidContinue: a continue token that this store did not issue for
	// this list (kube-apiserver's wording).
	ErrInvalidContinue = errors.New("continue key is not valid")
	// ErrFenced: a write carried a fence (WithFence) that no longer holds:
	// the leadership it was issued under has been lost.
	ErrFenced = errors.New("fenced: leadership lost")
	// ErrRequestTooLarge: a write too large to store, refused by the store
	// (an object over MaxObjectBytes) or by etcd (a request over its
	// --max-request-bytes). The error is a *TooLargeError saying how large.
	ErrRequestTooLarge = errors.New("request is too large")
)

// MaxObjectBytes is the largest object the store writes, measured in its
// stored (protobuf) form: 1.5 MiB, etcd's default --max-request-bytes, so
// objects are limited as on Kubernetes over a default etcd. The store
// checks it itself, because a write also carries the object's index copies
// (EtcdMaxRequestBytes) and the limit must not depend on them.
const MaxObjectBytes = 3 << 19

// EtcdMaxRequestBytes is the --max-request-bytes etcd needs for every write
// the store makes: an object of MaxObjectBytes and the one index copy a
// resource may keep of it (a bound pod's), with room for keys, claims and
// compares. The embedded etcd is started with it. An external etcd left at
// its default (1.5 MiB) refuses indexed objects over about half of
// MaxObjectBytes with ErrRequestTooLarge.
const EtcdMaxRequestBytes = 2*MaxObjectBytes + 64<<10

// TooLargeError reports a write refused for its size.
type TooLargeError struct {
	Key string
	// Size is the object's size in its stored form (of all the objects, for
	// CreateMany).
	Size int
	// Limit is the limit it exceeds; 0 when etcd refused the request (its
	// own --max-request-bytes, which the store does not know).
	Limit int
}

func (e *TooLargeError) Error() string {
	if e.Limit == 0 {
		return fmt.Sprintf("%s: etcd refused to write %d bytes (over its --max-request-bytes): %v", e.Key, e.Size, ErrRequestTooLarge)
	}
	return fmt.Sprintf("%s: the object is %d bytes stored, limit is %d: %v", e.Key, e.Size, e.Limit, ErrRequestTooLarge)
}

func (e *TooLargeError) Unwrap() error { return ErrRequestTooLarge }

// checkSize refuses an object whose stored form exceeds MaxObjectBytes.
func checkSize(key string, data []byte) error {
	if len(data) > MaxObjectBytes {
		return &TooLargeError{Key: key, Size: len(data), Limit: MaxObjectBytes}
	}
	return nil
}

// ClaimedError reports which claim a write could not take.
type ClaimedError struct {
	Key   string // the object that wanted the claim
	Claim string // the claim, e.g. "serviceips/10.96.0.10"
	Owner string // the key of the object holding it
}

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("%s: claim %q is held by %s", e.Key, e.Claim, e.Owner)
}

func (e *ClaimedError) Unwrap() error { return ErrClaimed }

func notFound(key string) error      { return fmt.Errorf("%s: %w", key, ErrNotFound) }
func alreadyExists(key string) error { return fmt.Errorf("%s: %w", key, ErrAlreadyExists) }
func fenced(key string) error        { return fmt.Errorf("%s: %w", key, ErrFenced) }
func conflict(key string, rev int64) error {
	return fmt.Errorf("%s: expected revision %d: %w", key, rev, ErrConflict)
}
