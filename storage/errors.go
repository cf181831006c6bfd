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
	// this list.
	ErrInvalidContinue = errors.New("invalid continue token")
	// ErrFenced: a write carried a fence (WithFence) that no longer holds:
	// the leadership it was issued under has been lost.
	ErrFenced = errors.New("fenced: leadership lost")
)

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
