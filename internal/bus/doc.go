// Package bus is Orbital's in-process message bus: the local fast path
// between wasm processes, native drivers and the CLI. (NATS is for crossing
// machines; this bus never leaves the process.) It is pure Go and knows
// nothing about wasm: the kernel registers each process as an Endpoint and
// translates the guest ABI (docs/ABI.md) into calls here.
//
// # Concepts
//
//   - Subjects are NATS-style dot-separated tokens; patterns add '*' (one
//     token) and a trailing '>' (one or more tokens). See ValidSubject,
//     ValidPattern and Match.
//   - An Endpoint is an identity (name, ID) with Permissions and a Mailbox.
//     It publishes and subscribes (optionally in queue groups), sends
//     directly to another endpoint by name or "#<id>", and makes requests
//     that wait for the first reply.
//   - Permissions are deny-by-default allow/deny pattern lists for publish
//     and subscribe plus a list of endpoints one may send to. Every refusal
//     returns an error wrapping ErrDenied (api.ErrPermissionDenied), is
//     counted in Stats and is reported to Options.Events.
//   - Reserved subjects: "$…" (the kernel's "$sys." events, published only
//     through Bus.PublishSys) and "_inbox." (request inboxes, answered only
//     through Endpoint.Reply).
//   - A Mailbox is a bounded queue with an overflow policy (DropNewest,
//     DropOldest, Block with a timeout); drops are counted, never silent
//     to the operator.
//   - Blobs are immutable, reference-counted, quota-charged buffers that
//     travel by handle.
//
// # Ownership
//
// The bus copies nothing. Message.Data is handed over by the publisher and
// shared read-only by all receivers of a fan-out; the kernel makes the one
// copy at the guest-memory boundary. A Blob is retained once per delivered
// copy; the receiver releases it; the bus releases the copies it drops
// (full mailbox, DropOldest eviction, Mailbox.Close).
//
// # Design
//
// Routing: subscriptions live in a token trie (sublist.go). The match
// result of a subject (its plain subscribers and queue groups, already
// filtered by each subscriber's Subscribe rules) is cached in a sync.Map
// keyed by subject and tagged with a generation number; any subscribe or
// unsubscribe bumps the generation, which lazily invalidates every cached
// route. Each endpoint also remembers the route of the last subject it
// published to, after its permission check passed, so the steady-state
// publish path is: one atomic load and string compare, a size check, one
// mailbox push per receiver and three atomic counter adds (the subject's
// published and delivered counts, the endpoint's out count) — no
// allocation, no bus-wide lock. Direct sends count per sending endpoint
// and Stats sums them, so the send path shares no counter either.
//
// Mailboxes: a FIFO of 16-message chunks (pooled, released as soon as
// they are read, so an empty mailbox holds none) under one sync.Mutex per
// mailbox. The consumer sleeps on a 1-slot notify channel that a push fills
// only on the empty→non-empty transition, so a busy consumer drains
// without wake-ups. Blocked publishers (Block policy) wait on a 1-slot
// "space" channel with a pooled timer; each pop, and each push that leaves
// room, passes the wake-up on.
//
// Endpoint tables (by name, by ID, by inbox token) are 64-way sharded maps
// with a read-write lock per shard: Send and Reply look up their target
// without a bus-wide lock or boxing the key.
//
// Requests: each endpoint has a random 64-bit token; a request's reply
// subject is "_inbox.<token>.<n>" and the pending call (a pooled 1-slot
// channel) is keyed by n in the endpoint's pending map. A reply finds the
// endpoint by token, claims and removes the call under the endpoint's lock
// and sends on its channel: exactly one reply wins, late ones get
// ErrNoRequest, and nobody can inject a reply without having seen the
// request (the token is unguessable). Inboxes never enter the trie.
//
// Statistics: per-subject counters are allocated once, when a subject's
// route is first computed, in a table bounded by Options.MaxTrackedSubjects;
// the route holds a pointer to them, so counting is atomic adds only.
//
// # Locks
//
// Every lock is held briefly and only these nestings exist (outer → inner);
// any other lock is a leaf, never held while acquiring another:
//
//	Bus.mu (Register/Unregister)  → a table shard's lock (endpoint lookups)
//	Mailbox.mu                    → BlobStore.mu (a DropOldest eviction
//	                                releases the evicted message's blob)
//
// Leaves: Bus.subMu (trie, subscriptions), Bus.statsMu (subject table),
// Endpoint.pendMu (pending requests), BlobStore.mu. No lock is held while
// pushing into a mailbox from the bus, while a publisher waits under the
// Block policy, or while calling Options.Events, so a slow or blocked
// receiver never stalls routing for others, and an Events callback may
// call back into the bus.
package bus
