package bus

import (
	"fmt"

	"github.com/orbitalfoundation/orbital/api"
)

// Errors returned by the bus. Each wraps the api class a caller branches on
// (the kernel maps classes to guest ABI codes, docs/ABI.md, and the control
// API to HTTP statuses); the finer sentinels below let tests and callers
// tell cases of one class apart with errors.Is.
var (
	// ErrDenied: the endpoint's permissions do not allow the operation, or
	// the subject is reserved. Wraps api.ErrPermissionDenied.
	ErrDenied = fmt.Errorf("bus: %w", api.ErrPermissionDenied)
	// ErrTooLarge: the message data exceeds the node's or the endpoint's
	// maximum message size. Wraps api.ErrTooLarge and api.ErrLimit.
	ErrTooLarge = fmt.Errorf("bus: message %w: %w", api.ErrTooLarge, api.ErrLimit)
	// ErrFull: the receiver's mailbox was full and the message was dropped
	// (or every responder of a request dropped it). Wraps api.ErrLimit.
	ErrFull = fmt.Errorf("bus: mailbox full: %w", api.ErrLimit)
	// ErrSubscriptionLimit: the endpoint holds the maximum number of
	// subscriptions. Wraps api.ErrLimit.
	ErrSubscriptionLimit = fmt.Errorf("bus: too many subscriptions: %w", api.ErrLimit)
	// ErrNoResponders: a request found no subscriber. Wraps api.ErrNotFound.
	ErrNoResponders = fmt.Errorf("bus: no responders: %w", api.ErrNotFound)
	// ErrNoEndpoint: a direct send named no registered endpoint. Wraps
	// api.ErrNotFound.
	ErrNoEndpoint = fmt.Errorf("bus: no such endpoint: %w", api.ErrNotFound)
	// ErrNoSubscription: Endpoint.Unsubscribe was given an unknown ID.
	// Wraps api.ErrNotFound.
	ErrNoSubscription = fmt.Errorf("bus: no such subscription: %w", api.ErrNotFound)
	// ErrNoRequest: a reply's inbox has no waiting request (it timed out or
	// was already answered). Wraps api.ErrNotFound.
	ErrNoRequest = fmt.Errorf("bus: no waiting request: %w", api.ErrNotFound)
	// ErrClosed: the endpoint was unregistered, the mailbox closed, or the
	// blob already freed. Wraps api.ErrClosed.
	ErrClosed = fmt.Errorf("bus: %w", api.ErrClosed)
	// ErrQuota: a blob would exceed its owner's quota. Wraps api.ErrLimit.
	ErrQuota = fmt.Errorf("bus: blob quota exceeded: %w", api.ErrLimit)

	// ErrInvalid: a malformed subject, pattern, name or argument. Wraps
	// api.ErrInvalid.
	ErrInvalid = fmt.Errorf("bus: %w", api.ErrInvalid)
	// ErrExists: Register was given a name or ID that is already taken.
	// Wraps api.ErrExists.
	ErrExists = fmt.Errorf("bus: name or id %w", api.ErrExists)
)
