package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
)

func TestFanOutAndWildcards(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	pub := register(t, b, "pub", 1, AllowAll, MailboxConfig{})
	subs := []struct {
		pattern string
		want    []string // subjects received, in order
	}{
		{"a.b", []string{"a.b", "a.b"}},
		{"a.b", []string{"a.b", "a.b"}},
		{"a.*", []string{"a.b", "a.c", "a.b"}},
		{"a.>", []string{"a.b", "a.c", "a.b.c", "a.b"}},
		{">", []string{"a.b", "a.c", "a.b.c", "x", "a.b"}},
		{"*.b.*", []string{"a.b.c"}},
		{"*", []string{"x"}},
		{"a.b.c.d", nil},
		{"b.>", nil},
	}
	eps := make([]*Endpoint, len(subs))
	for i, s := range subs {
		eps[i] = register(t, b, fmt.Sprintf("s%d", i), uint64(10+i), AllowAll, MailboxConfig{})
		subscribe(t, eps[i], s.pattern, "")
	}
	for _, subj := range []string{"a.b", "a.c", "a.b.c", "x", "a.b"} {
		publish(t, pub, subj, "payload-"+subj)
	}
	for i, s := range subs {
		got := drain(eps[i].Mailbox())
		var subjects []string
		for _, m := range got {
			subjects = append(subjects, m.Subject)
			if m.From != "pub" || m.Direct || string(m.Data) != "payload-"+m.Subject {
				t.Errorf("%s: bad message %+v", s.pattern, m)
			}
		}
		if !slices.Equal(subjects, s.want) {
			t.Errorf("subscriber of %q got %q, want %q", s.pattern, subjects, s.want)
		}
	}
	st := b.Stats()
	want := map[string]api.SubjectStats{
		"a.b":   {Subject: "a.b", Published: 2, Delivered: 10},
		"a.c":   {Subject: "a.c", Published: 1, Delivered: 3},
		"a.b.c": {Subject: "a.b.c", Published: 1, Delivered: 3},
		"x":     {Subject: "x", Published: 1, Delivered: 2},
	}
	for _, s := range st.Subjects {
		if w, ok := want[s.Subject]; !ok || s != w {
			t.Errorf("stats %+v, want %+v", s, w)
		}
	}
	if st.Subscriptions != len(subs) {
		t.Errorf("Subscriptions = %d, want %d", st.Subscriptions, len(subs))
	}
}

func TestFanOutN(t *testing.T) {
	for _, n := range []int{1, 3, 50} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			b, _ := newTestBus(t, Options{})
			pub := register(t, b, "pub", 0, AllowAll, MailboxConfig{})
			var eps []*Endpoint
			for i := range n {
				e := register(t, b, fmt.Sprintf("s%d", i), uint64(i+1), perms(nil, []string{"fan.>"}), MailboxConfig{})
				subscribe(t, e, "fan.>", "")
				eps = append(eps, e)
			}
			const msgs = 20
			for i := range msgs {
				publish(t, pub, "fan.out", fmt.Sprint(i))
			}
			for _, e := range eps {
				got := datas(drain(e.Mailbox()))
				if len(got) != msgs || got[0] != "0" || got[msgs-1] != fmt.Sprint(msgs-1) {
					t.Fatalf("%s got %v", e.Name(), got)
				}
			}
		})
	}
}

func TestSubscribeAfterPublishInvalidatesCache(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	pub := register(t, b, "pub", 1, AllowAll, MailboxConfig{})
	a := register(t, b, "a", 2, AllowAll, MailboxConfig{})
	publish(t, pub, "t.x", "before") // caches a route with no subscribers
	s := subscribe(t, a, "t.*", "")
	publish(t, pub, "t.x", "after")
	s.Unsubscribe()
	s.Unsubscribe() // harmless
	publish(t, pub, "t.x", "gone")
	if got := datas(drain(a.Mailbox())); !slices.Equal(got, []string{"after"}) {
		t.Fatalf("got %q, want [after]", got)
	}
	if st := b.Stats(); st.Subscriptions != 0 || st.Subjects[0].Unrouted != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestQueueGroups(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	pub := register(t, b, "pub", 1, AllowAll, MailboxConfig{})
	var workers []*Endpoint
	for i := range 3 {
		w := register(t, b, fmt.Sprintf("w%d", i), uint64(10+i), AllowAll, MailboxConfig{Capacity: 1000})
		subscribe(t, w, "jobs.>", "workers")
		workers = append(workers, w)
	}
	// Same queue name on another pattern is the same group.
	w3 := register(t, b, "w3", 13, AllowAll, MailboxConfig{Capacity: 1000})
	subscribe(t, w3, "jobs.*", "workers")
	workers = append(workers, w3)
	// A second group and a plain subscriber each see every message once.
	audit := register(t, b, "audit", 20, AllowAll, MailboxConfig{Capacity: 1000})
	subscribe(t, audit, "jobs.>", "")
	other := register(t, b, "other", 21, AllowAll, MailboxConfig{Capacity: 1000})
	subscribe(t, other, "jobs.>", "loggers")

	const n = 400
	for i := range n {
		publish(t, pub, "jobs.run", fmt.Sprint(i))
	}
	seen := make(map[string]int)
	for _, w := range workers {
		got := datas(drain(w.Mailbox()))
		if len(got) < n/len(workers)/2 {
			t.Errorf("%s got %d of %d: not spread", w.Name(), len(got), n)
		}
		for _, d := range got {
			seen[d]++
		}
	}
	if len(seen) != n {
		t.Fatalf("workers saw %d distinct messages, want %d", len(seen), n)
	}
	for d, c := range seen {
		if c != 1 {
			t.Fatalf("message %s delivered %d times to the group", d, c)
		}
	}
	if got := len(drain(audit.Mailbox())); got != n {
		t.Errorf("plain subscriber got %d, want %d", got, n)
	}
	if got := len(drain(other.Mailbox())); got != n {
		t.Errorf("single-member group got %d, want %d", got, n)
	}
}

func TestQueueGroupSkipsFullMember(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	pub := register(t, b, "pub", 1, AllowAll, MailboxConfig{})
	stuck := register(t, b, "stuck", 2, AllowAll, MailboxConfig{Capacity: 1})
	free := register(t, b, "free", 3, AllowAll, MailboxConfig{Capacity: 100})
	subscribe(t, stuck, "q", "g")
	subscribe(t, free, "q", "g")
	for i := range 50 {
		publish(t, pub, "q", fmt.Sprint(i))
	}
	if s, f := stuck.Mailbox().Len(), free.Mailbox().Len(); s != 1 || f != 49 {
		t.Fatalf("stuck=%d free=%d, want 1 and 49", s, f)
	}
	if st := b.Stats(); st.Subjects[0].Dropped != 0 || st.Subjects[0].Delivered != 50 {
		t.Fatalf("stats %+v", st.Subjects)
	}
	// When every member is full the message is dropped and counted.
	drain(free.Mailbox())
	for i := range 100 {
		publish(t, pub, "q", fmt.Sprint(i))
	}
	publish(t, pub, "q", "overflow")
	if st := b.Stats(); st.Subjects[0].Dropped != 1 {
		t.Fatalf("dropped = %d, want 1", st.Subjects[0].Dropped)
	}
}

// responder answers every request on its mailbox with "re:"+data until
// the mailbox closes.
func responder(t testing.TB, e *Endpoint) (stop func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m, err := e.Mailbox().Recv(context.Background())
			if err != nil {
				return
			}
			if err := e.Reply(m, append([]byte("re:"), m.Data...)); err != nil {
				t.Errorf("reply: %v", err)
			}
		}
	}()
	return func() { e.Mailbox().Close(); wg.Wait() }
}

func TestRequestReply(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	// The requester may publish svc.* but subscribe to nothing: the reply
	// inbox needs no permission.
	req := register(t, b, "req", 1, perms([]string{"svc.*"}, nil), MailboxConfig{})
	srv := register(t, b, "srv", 2, perms(nil, []string{"svc.echo"}), MailboxConfig{})
	subscribe(t, srv, "svc.echo", "")
	stop := responder(t, srv)
	defer stop()

	m, err := req.Request(ctxTimeout(t, 10*time.Second), "svc.echo", []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != "re:hi" || m.From != "srv" || !strings.HasPrefix(m.Subject, InboxPrefix) {
		t.Fatalf("reply %+v", m)
	}

	// Many concurrent requests from one endpoint each get their own answer.
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprint(i)
			m, err := req.Request(ctxTimeout(t, 10*time.Second), "svc.echo", []byte(want))
			if err != nil || string(m.Data) != "re:"+want {
				t.Errorf("request %d: %q %v", i, m.Data, err)
			}
		}()
	}
	wg.Wait()
	if st := req.Stats(); st.In != 33 || st.Out != 33 {
		t.Errorf("requester stats %+v", st)
	}
	if req.pending.len() != 0 {
		t.Errorf("%d pending calls left", req.pending.len())
	}
}

func TestRequestNoResponders(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	req := register(t, b, "req", 1, AllowAll, MailboxConfig{})
	_, err := req.Request(context.Background(), "nobody.home", nil)
	if !errors.Is(err, ErrNoResponders) || !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("err = %v, want no responders", err)
	}
	// A subscriber whose Subscribe rules exclude the subject is no responder.
	deaf := register(t, b, "deaf", 2, Permissions{Subscribe: Rules{Allow: []string{">"}, Deny: []string{"nobody.>"}}}, MailboxConfig{})
	subscribe(t, deaf, ">", "")
	if _, err := req.Request(context.Background(), "nobody.home", nil); !errors.Is(err, ErrNoResponders) {
		t.Fatalf("err = %v, want no responders", err)
	}
	// Every responder full: fails at once with ErrFull.
	b.Unregister(deaf)
	full := register(t, b, "full", 3, AllowAll, MailboxConfig{Capacity: 1})
	subscribe(t, full, "busy", "")
	publish(t, req, "busy", "x")
	if _, err := req.Request(context.Background(), "busy", nil); !errors.Is(err, ErrFull) || !errors.Is(err, api.ErrLimit) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
	if req.pending.len() != 0 {
		t.Errorf("%d pending calls left", req.pending.len())
	}
}

func TestRequestTimeoutAndLateReply(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	req := register(t, b, "req", 1, AllowAll, MailboxConfig{})
	slow := register(t, b, "slow", 2, AllowAll, MailboxConfig{})
	subscribe(t, slow, "svc", "")
	_, err := req.Request(ctxTimeout(t, 20*time.Millisecond), "svc", []byte("q"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	m, ok := slow.Mailbox().TryRecv()
	if !ok || m.Reply == "" {
		t.Fatalf("request not queued: %+v", m)
	}
	if err := slow.Reply(m, []byte("late")); !errors.Is(err, ErrNoRequest) || !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("late reply err = %v, want ErrNoRequest", err)
	}
	// Only the first of two replies wins.
	go func() {
		m, _ := slow.Mailbox().Recv(context.Background())
		_ = slow.Reply(m, []byte("first"))
		if err := slow.Reply(m, []byte("second")); !errors.Is(err, ErrNoRequest) {
			t.Errorf("second reply err = %v, want ErrNoRequest", err)
		}
	}()
	if m, err := req.Request(ctxTimeout(t, 10*time.Second), "svc", nil); err != nil || string(m.Data) != "first" {
		t.Fatalf("got %q %v", m.Data, err)
	}
}

func TestRequestFailsOnUnregister(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	req := register(t, b, "req", 1, AllowAll, MailboxConfig{})
	srv := register(t, b, "srv", 2, AllowAll, MailboxConfig{})
	subscribe(t, srv, "svc", "")
	errc := make(chan error, 1)
	go func() {
		_, err := req.Request(context.Background(), "svc", nil)
		errc <- err
	}()
	m, err := srv.Mailbox().Recv(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b.Unregister(req)
	if err := <-errc; !errors.Is(err, api.ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	if err := srv.Reply(m, nil); !errors.Is(err, ErrNoRequest) {
		t.Fatalf("reply to unregistered requester: %v", err)
	}
}

func TestReplyCannotBeForged(t *testing.T) {
	b, log := newTestBus(t, Options{})
	req := register(t, b, "req", 1, AllowAll, MailboxConfig{})
	srv := register(t, b, "srv", 2, AllowAll, MailboxConfig{})
	evil := register(t, b, "evil", 3, Permissions{Publish: Rules{Allow: []string{">"}}, Subscribe: Rules{Allow: []string{"x.>"}}}, MailboxConfig{})
	subscribe(t, srv, "svc", "")
	done := make(chan Message, 1)
	go func() {
		m, _ := req.Request(ctxTimeout(t, 10*time.Second), "svc", nil)
		done <- m
	}()
	m, _ := srv.Mailbox().Recv(ctxTimeout(t, 10*time.Second))

	// Guessing the inbox is not enough: the token is random.
	guess := fmt.Sprintf("%s%x.%d", InboxPrefix, 0, 1)
	if err := evil.Reply(Message{Reply: guess}, []byte("forged")); !errors.Is(err, ErrNoRequest) {
		t.Fatalf("forged reply: %v", err)
	}
	// Inboxes cannot be published or subscribed to directly.
	if err := evil.Publish(m.Reply, Message{Data: []byte("forged")}); !errors.Is(err, api.ErrPermissionDenied) {
		t.Fatalf("publish to inbox: %v", err)
	}
	if _, err := evil.Subscribe("_inbox.>", ""); !errors.Is(err, api.ErrPermissionDenied) {
		t.Fatalf("subscribe to inboxes: %v", err)
	}
	// A reply subject must be one's own inbox or a subject one may
	// subscribe to: evil cannot make srv publish to "y.z".
	if err := evil.Publish("svc", Message{Reply: "y.z"}); !errors.Is(err, api.ErrPermissionDenied) {
		t.Fatalf("publish with foreign reply subject: %v", err)
	}
	if err := evil.Publish("svc", Message{Reply: "x.replies"}); err != nil {
		t.Fatalf("publish with own reply subject: %v", err)
	}
	if err := srv.Reply(m, []byte("real")); err != nil {
		t.Fatal(err)
	}
	if got := <-done; string(got.Data) != "real" {
		t.Fatalf("requester got %q", got.Data)
	}
	if n := len(log.of(EventDenied)); n != 3 {
		t.Errorf("%d denial events, want 3", n)
	}
}

func TestReplyToPlainSubjectUsesPublishRules(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	asker := register(t, b, "asker", 1, perms([]string{"svc"}, []string{"answers"}), MailboxConfig{})
	subscribe(t, asker, "answers", "")
	srv := register(t, b, "srv", 2, perms([]string{"answers"}, []string{"svc"}), MailboxConfig{})
	subscribe(t, srv, "svc", "")
	mute := register(t, b, "mute", 3, perms(nil, []string{"svc"}), MailboxConfig{})
	subscribe(t, mute, "svc", "")
	if err := asker.Publish("svc", Message{Reply: "answers", Data: []byte("q")}); err != nil {
		t.Fatal(err)
	}
	m, _ := srv.Mailbox().TryRecv()
	if err := srv.Reply(m, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if got := datas(drain(asker.Mailbox())); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("asker got %q", got)
	}
	m, _ = mute.Mailbox().TryRecv()
	if err := mute.Reply(m, []byte("a")); !errors.Is(err, api.ErrPermissionDenied) {
		t.Fatalf("reply without publish permission: %v", err)
	}
	if err := srv.Reply(Message{}, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("reply without reply subject: %v", err)
	}
}

func TestSend(t *testing.T) {
	b, log := newTestBus(t, Options{})
	a := register(t, b, "a", 1, Permissions{SendTo: []string{"worker-*", "db"}}, MailboxConfig{})
	w := register(t, b, "worker-7", 7, Permissions{}, MailboxConfig{Capacity: 2})
	db := register(t, b, "db", 8, Permissions{}, MailboxConfig{})
	secret := register(t, b, "secret", 9, Permissions{}, MailboxConfig{})

	ok := []struct{ to, label string }{
		{"worker-7", ""},
		{"#7", "job.start"},
		{"db", ""},
		{"#8", ""},
	}
	for _, tt := range ok {
		if err := a.Send(tt.to, Message{Subject: tt.label, Data: []byte(tt.to)}); err != nil {
			t.Fatalf("send %s: %v", tt.to, err)
		}
	}
	got := drain(w.Mailbox())
	if len(got) != 2 || got[0].From != "a" || !got[0].Direct || got[1].Subject != "job.start" || string(got[1].Data) != "#7" {
		t.Fatalf("worker got %+v", got)
	}
	if n := len(drain(db.Mailbox())); n != 2 {
		t.Fatalf("db got %d", n)
	}

	bad := []struct {
		to    string
		msg   Message
		class error
	}{
		{"secret", Message{}, api.ErrPermissionDenied},
		{"#9", Message{}, api.ErrPermissionDenied}, // by ID, checked against its name
		{"worker-8", Message{}, api.ErrNotFound},
		{"#99", Message{}, api.ErrNotFound},
		{"#x", Message{}, api.ErrNotFound},
		{"db", Message{Subject: "$sys.proc.exited"}, api.ErrPermissionDenied},
		{"db", Message{Subject: "_inbox.abc.1"}, api.ErrPermissionDenied},
		{"db", Message{Subject: "bad..label"}, ErrInvalid},
	}
	for _, tt := range bad {
		if err := a.Send(tt.to, tt.msg); !errors.Is(err, tt.class) {
			t.Errorf("send %s %+v: err = %v, want %v", tt.to, tt.msg, err, tt.class)
		}
	}
	if n := len(drain(secret.Mailbox())); n != 0 {
		t.Fatalf("secret got %d", n)
	}
	// A full mailbox is reported to the sender.
	for range 2 {
		_ = a.Send("worker-7", Message{})
	}
	if err := a.Send("worker-7", Message{}); !errors.Is(err, ErrFull) {
		t.Fatalf("send to full mailbox: %v", err)
	}
	st := b.Stats()
	if st.Direct.Sent != 7 || st.Direct.Delivered != 6 || st.Direct.Dropped != 1 || st.Direct.Denied != 4 {
		t.Errorf("direct stats %+v", st.Direct)
	}
	if n := len(log.of(EventDenied)); n != 4 {
		t.Errorf("%d denial events, want 4", n)
	}
}

func TestPermissionDenials(t *testing.T) {
	b, log := newTestBus(t, Options{})
	mod := register(t, b, "mod", 1, Permissions{
		Publish:   Rules{Allow: []string{"app.>"}, Deny: []string{"app.admin.>"}},
		Subscribe: Rules{Allow: []string{"app.>", "$sys.proc.*"}, Deny: []string{"app.secret"}},
		SendTo:    []string{"peer"},
	}, MailboxConfig{})
	register(t, b, "other", 2, Permissions{}, MailboxConfig{})
	tests := []struct {
		op, target string
		do         func() error
	}{
		{"publish", "other.x", func() error { return mod.Publish("other.x", Message{}) }},
		{"publish", "app.admin.reset", func() error { return mod.Publish("app.admin.reset", Message{}) }},
		{"publish", "$sys.proc.exited", func() error { return mod.Publish("$sys.proc.exited", Message{}) }},
		{"publish", "$sys", func() error { return mod.Publish("$sys", Message{}) }},
		{"publish", "_inbox.x.1", func() error { return mod.Publish("_inbox.x.1", Message{}) }},
		{"request", "other.svc", func() error {
			_, err := mod.Request(context.Background(), "other.svc", nil)
			return err
		}},
		{"subscribe", "other.>", func() error { _, err := mod.Subscribe("other.>", ""); return err }},
		{"subscribe", ">", func() error { _, err := mod.Subscribe(">", ""); return err }},
		{"subscribe", "app.secret", func() error { _, err := mod.Subscribe("app.secret", ""); return err }},
		{"subscribe", "$sys.>", func() error { _, err := mod.Subscribe("$sys.>", ""); return err }},
		{"subscribe", "_inbox.>", func() error { _, err := mod.Subscribe("_inbox.>", ""); return err }},
		{"send", "other", func() error { return mod.Send("other", Message{}) }},
		{"send", "#2", func() error { return mod.Send("#2", Message{}) }},
	}
	for i, tt := range tests {
		err := tt.do()
		if !errors.Is(err, api.ErrPermissionDenied) || !errors.Is(err, ErrDenied) {
			t.Errorf("%s %s: err = %v, want permission denied", tt.op, tt.target, err)
			continue
		}
		ev := log.of(EventDenied)
		if len(ev) != i+1 {
			t.Fatalf("%s %s: %d events, want %d", tt.op, tt.target, len(ev), i+1)
		}
		if e := ev[i]; e.Op != tt.op || e.Target != tt.target || e.Endpoint != "mod" || e.Err == nil {
			t.Errorf("%s %s: event %+v", tt.op, tt.target, e)
		}
	}
	st := b.Stats()
	if st.Denied != uint64(len(tests)) || mod.Stats().Denied != uint64(len(tests)) {
		t.Errorf("denied bus=%d endpoint=%d, want %d", st.Denied, mod.Stats().Denied, len(tests))
	}
	perSubject := map[string]uint64{}
	for _, s := range st.Subjects {
		perSubject[s.Subject] = s.Denied
	}
	if perSubject["other.x"] != 1 || perSubject["app.admin.reset"] != 1 || perSubject["other.svc"] != 1 {
		t.Errorf("per-subject denials %v", perSubject)
	}
	// And what is allowed works.
	for _, p := range []string{"app.>", "app.*", "app.public", "$sys.proc.*", "$sys.proc.started"} {
		if _, err := mod.Subscribe(p, ""); err != nil {
			t.Errorf("subscribe %q: %v", p, err)
		}
	}
}

func TestSubscribeDenyFiltersDelivery(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	pub := register(t, b, "pub", 1, AllowAll, MailboxConfig{})
	e := register(t, b, "e", 2, Permissions{Subscribe: Rules{Allow: []string{">"}, Deny: []string{"secret.>"}}}, MailboxConfig{})
	subscribe(t, e, ">", "")
	publish(t, pub, "public.x", "ok")
	publish(t, pub, "secret.key", "no")
	if err := b.PublishSys("$sys.proc.started", Message{Data: []byte("sys")}); err != nil {
		t.Fatal(err)
	}
	if got := datas(drain(e.Mailbox())); !slices.Equal(got, []string{"ok"}) {
		t.Fatalf("got %q, want [ok]", got)
	}
}

func TestSysEvents(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	mon := register(t, b, "monitor", 1, perms(nil, []string{"$sys.proc.>"}), MailboxConfig{})
	subscribe(t, mon, "$sys.proc.>", "")
	cli := register(t, b, "cli", 2, AllowAll, MailboxConfig{})
	subscribe(t, cli, ">", "") // AllowAll names $sys explicitly, so ">" gets kernel events too
	mod := register(t, b, "mod", 3, perms(nil, []string{">"}), MailboxConfig{})
	subscribe(t, mod, ">", "") // plain ">" permission does not include $sys

	if err := b.PublishSys("$sys.proc.exited", Message{Data: []byte("hello:0")}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*Endpoint{mon, cli} {
		got := drain(e.Mailbox())
		if len(got) != 1 || got[0].From != KernelName || got[0].Subject != "$sys.proc.exited" {
			t.Errorf("%s got %+v", e.Name(), got)
		}
	}
	if n := len(drain(mod.Mailbox())); n != 0 {
		t.Errorf("mod got %d kernel events", n)
	}
	for _, s := range []string{"proc.exited", "$sysx.a", "$sys.", "$sys.a.*"} {
		if err := b.PublishSys(s, Message{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("PublishSys(%q) = %v, want ErrInvalid", s, err)
		}
	}
	if err := cli.Publish("$sys.proc.exited", Message{}); !errors.Is(err, api.ErrPermissionDenied) {
		t.Errorf("AllowAll endpoint published a system subject: %v", err)
	}
}

func TestMaxMessageSize(t *testing.T) {
	b, _ := newTestBus(t, Options{MaxMessageSize: 1024})
	big := register(t, b, "big", 1, AllowAll, MailboxConfig{})
	small := register(t, b, "small", 2, Permissions{Publish: Rules{Allow: []string{">"}}, SendTo: []string{"*"}, MaxMessageSize: 100}, MailboxConfig{})
	sub := register(t, b, "sub", 3, AllowAll, MailboxConfig{})
	subscribe(t, sub, "m", "")
	tests := []struct {
		e    *Endpoint
		size int
		ok   bool
	}{
		{big, 1024, true},
		{big, 1025, false},
		{small, 100, true},
		{small, 101, false},
	}
	for _, tt := range tests {
		data := make([]byte, tt.size)
		for _, op := range []func() error{
			func() error { return tt.e.Publish("m", Message{Data: data}) },
			func() error { return tt.e.Send("sub", Message{Data: data}) },
			func() error {
				_, err := tt.e.Request(ctxTimeout(t, time.Millisecond), "m", data)
				if errors.Is(err, context.DeadlineExceeded) {
					return nil // sent; nobody answers
				}
				return err
			},
		} {
			err := op()
			if tt.ok && err != nil {
				t.Errorf("%s %d bytes: %v", tt.e.Name(), tt.size, err)
			}
			if !tt.ok && (!errors.Is(err, ErrTooLarge) || !errors.Is(err, api.ErrTooLarge) || !errors.Is(err, api.ErrLimit)) {
				t.Errorf("%s %d bytes: err = %v, want ErrTooLarge", tt.e.Name(), tt.size, err)
			}
		}
	}
	if got := len(drain(sub.Mailbox())); got != 6 {
		t.Errorf("delivered %d, want 6", got)
	}
	if err := b.PublishSys("$sys.x", Message{Data: make([]byte, 1025)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("PublishSys too large: %v", err)
	}
	if got := sub.Mailbox().Config().MaxBytes; got != DefaultCapacity*1024 {
		t.Errorf("mailbox MaxBytes = %d, want Capacity × bus limit", got)
	}
}

func TestRegisterAndUnregister(t *testing.T) {
	b, _ := newTestBus(t, Options{MaxSubscriptions: 3})
	e := register(t, b, "e", 1, AllowAll, MailboxConfig{})
	if _, err := b.Register("e", 2, AllowAll, nil); !errors.Is(err, ErrExists) || !errors.Is(err, api.ErrExists) {
		t.Errorf("duplicate name: %v", err)
	}
	if _, err := b.Register("f", 1, AllowAll, nil); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate id: %v", err)
	}
	if _, err := b.Register("a.b", 3, AllowAll, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad name: %v", err)
	}
	if _, err := b.Register("g", 3, perms([]string{"a..b"}, nil), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad permissions: %v", err)
	}
	for i := range 3 {
		subscribe(t, e, fmt.Sprintf("s.%d", i), "")
	}
	if _, err := e.Subscribe("s.4", ""); !errors.Is(err, ErrSubscriptionLimit) || !errors.Is(err, api.ErrLimit) {
		t.Errorf("subscription limit: %v", err)
	}
	if err := e.Unsubscribe(1); err != nil {
		t.Error(err)
	}
	if err := e.Unsubscribe(1); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("unsubscribe twice: %v", err)
	}
	if got, ok := b.Lookup("#1"); !ok || got != e {
		t.Error("lookup by id")
	}
	pub := register(t, b, "pub", 9, AllowAll, MailboxConfig{})
	publish(t, pub, "s.2", "x")
	b.Unregister(e)
	b.Unregister(e) // harmless
	publish(t, pub, "s.2", "y")
	if got := datas(drain(e.Mailbox())); !slices.Equal(got, []string{"x"}) {
		t.Errorf("after unregister got %q", got)
	}
	for name, err := range map[string]error{
		"publish":   e.Publish("s.2", Message{}),
		"send":      e.Send("pub", Message{}),
		"subscribe": func() error { _, err := e.Subscribe("s.9", ""); return err }(),
		"request":   func() error { _, err := e.Request(context.Background(), "s.2", nil); return err }(),
	} {
		if !errors.Is(err, api.ErrClosed) {
			t.Errorf("%s after unregister: %v", name, err)
		}
	}
	if _, ok := b.Lookup("e"); ok {
		t.Error("unregistered endpoint still found")
	}
	if st := b.Stats(); st.Subscriptions != 0 || len(st.Endpoints) != 1 {
		t.Errorf("stats after unregister: %+v", st)
	}
	// The name is free again.
	register(t, b, "e", 1, AllowAll, MailboxConfig{})
}

func TestInvalidInput(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	e := register(t, b, "e", 1, AllowAll, MailboxConfig{})
	for name, err := range map[string]error{
		"publish":      e.Publish("a..b", Message{}),
		"publish wild": e.Publish("a.*", Message{}),
		"subscribe":    func() error { _, err := e.Subscribe("a.>.b", ""); return err }(),
		"queue":        func() error { _, err := e.Subscribe("a", "bad queue"); return err }(),
		"reply":        e.Publish("a", Message{Reply: "a..b"}),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestDropEvents(t *testing.T) {
	b, log := newTestBus(t, Options{})
	pub := register(t, b, "pub", 1, AllowAll, MailboxConfig{})
	slow := register(t, b, "slow", 2, AllowAll, MailboxConfig{Capacity: 1})
	subscribe(t, slow, "x", "")
	for range 11 { // 1 queued, 10 dropped
		publish(t, pub, "x", "")
	}
	var counts []uint64
	for _, e := range log.of(EventDropped) {
		if e.Endpoint != "slow" || e.Target != "x" {
			t.Errorf("event %+v", e)
		}
		counts = append(counts, e.Count)
	}
	if !slices.Equal(counts, []uint64{1, 2, 4, 8}) {
		t.Errorf("drop events at %v, want [1 2 4 8]", counts)
	}
	if st := slow.Stats(); st.Dropped != 10 || st.In != 1 || st.Queued != 1 {
		t.Errorf("endpoint stats %+v", st)
	}
}

func TestPerSubscriptionMailbox(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	pub := register(t, b, "pub", 1, AllowAll, MailboxConfig{})
	e := register(t, b, "e", 2, AllowAll, MailboxConfig{})
	frames := NewMailbox(MailboxConfig{Capacity: 2, Overflow: DropOldest})
	if _, err := e.SubscribeWith("camera.frames", SubOptions{Mailbox: frames}); err != nil {
		t.Fatal(err)
	}
	subscribe(t, e, "control", "")
	for i := range 5 {
		publish(t, pub, "camera.frames", fmt.Sprint(i))
	}
	publish(t, pub, "control", "stop")
	if got := datas(drain(frames)); !slices.Equal(got, []string{"3", "4"}) {
		t.Errorf("frames %q", got)
	}
	if got := datas(drain(e.Mailbox())); !slices.Equal(got, []string{"stop"}) {
		t.Errorf("control %q", got)
	}
}

func TestTrackedSubjectsBounded(t *testing.T) {
	b, _ := newTestBus(t, Options{MaxTrackedSubjects: 2})
	e := register(t, b, "e", 1, AllowAll, MailboxConfig{})
	for i := range 5 {
		publish(t, e, fmt.Sprintf("s.%d", i), "")
	}
	st := b.Stats()
	if len(st.Subjects) != 3 || st.Subjects[0].Subject != OtherSubjects || st.Subjects[0].Published != 3 {
		t.Fatalf("subjects %+v", st.Subjects)
	}
}

// TestConcurrentChurn mixes publishing, subscribing, unsubscribing,
// requests and receiving from many goroutines; with -race it checks the
// locking, and the counters must add up at the end.
func TestConcurrentChurn(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	const n = 8
	var eps []*Endpoint
	for i := range n {
		eps = append(eps, register(t, b, fmt.Sprintf("e%d", i), uint64(i), AllowAll, MailboxConfig{Capacity: 64, Overflow: Overflow(i % 3), BlockTimeout: time.Millisecond}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, e := range eps {
		wg.Add(2)
		go func() { // receiver: answers requests
			defer wg.Done()
			for {
				m, err := e.Mailbox().Recv(ctx)
				if err != nil {
					return
				}
				if m.Reply != "" {
					_ = e.Reply(m, m.Data)
				}
			}
		}()
		go func() { // churner
			defer wg.Done()
			for j := 0; ctx.Err() == nil; j++ {
				subj := fmt.Sprintf("t.%d", j%5)
				switch j % 7 {
				case 0:
					if s, err := e.Subscribe("t.*", fmt.Sprint("q", j%2)); err == nil && j%3 == 0 {
						s.Unsubscribe()
					}
				case 1:
					if s, err := e.Subscribe(subj, ""); err == nil {
						defer s.Unsubscribe()
					}
				case 2:
					rctx, c := context.WithTimeout(ctx, 5*time.Millisecond)
					_, _ = e.Request(rctx, subj, []byte("r"))
					c()
				case 3:
					_ = e.Send(fmt.Sprintf("e%d", (i+1)%n), Message{Data: []byte("d")})
				default:
					_ = e.Publish(subj, Message{Data: []byte("p")})
				}
				if j > 3000 {
					return
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	wg.Wait()
	for _, e := range eps {
		mb := e.Mailbox()
		in, out, dropped := mb.Stats()
		evicted := uint64(0)
		if mb.Config().Overflow == DropOldest {
			evicted = dropped // only evictions: no message exceeds MaxBytes
		}
		if in != out+evicted+uint64(mb.Len()) {
			t.Errorf("%s: in %d != out %d + evicted %d + queued %d", e.Name(), in, out, evicted, mb.Len())
		}
	}
	st := b.Stats()
	for _, s := range st.Subjects {
		if s.Subject == InboxSubjects {
			continue
		}
		if s.Delivered+s.Dropped < s.Published-s.Unrouted {
			t.Errorf("%s: delivered %d + dropped %d < routed publishes %d", s.Subject, s.Delivered, s.Dropped, s.Published-s.Unrouted)
		}
	}
}

func TestPendingCalls(t *testing.T) {
	var p pendingCalls
	calls := make([]*call, 40)
	for i := range calls {
		calls[i] = &call{}
		p.add(uint64(i+1), calls[i])
	}
	if p.len() != 40 || p.many == nil {
		t.Fatalf("len %d, map %v", p.len(), p.many != nil)
	}
	for _, i := range []int{7, 0, 39, 20} {
		if c := p.take(uint64(i + 1)); c != calls[i] {
			t.Fatalf("take %d", i+1)
		}
		if p.take(uint64(i+1)) != nil {
			t.Fatalf("took %d twice", i+1)
		}
	}
	if got := len(p.takeAll()); got != 36 || p.len() != 0 {
		t.Fatalf("takeAll %d, left %d", got, p.len())
	}
	for i := range 5 {
		p.add(uint64(i), calls[i])
	}
	if p.many != nil || p.take(3) != calls[3] || p.take(3) != nil || p.len() != 4 {
		t.Fatal("small set")
	}
}

// TestServiceControlSubjects: reserved "$…" subjects other than "$sys."
// (the compositor's "$wm.") may be published by an endpoint whose Allow
// list names them literally; ">" does not grant them, and "$sys." stays
// the kernel's.
func TestServiceControlSubjects(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	wm := register(t, b, "wm", 1, Permissions{Subscribe: Rules{Allow: []string{"$wm.>"}}}, MailboxConfig{})
	subscribe(t, wm, "$wm.>", "")
	all := register(t, b, "all", 2, Permissions{Publish: Rules{Allow: []string{">"}}}, MailboxConfig{})
	lit := register(t, b, "lit", 3, Permissions{Publish: Rules{Allow: []string{"$wm.>", "$sys.>"}, Deny: []string{"$wm.close"}}}, MailboxConfig{})
	if err := all.Publish("$wm.move", Message{}); !errors.Is(err, api.ErrPermissionDenied) {
		t.Fatalf("'>' granted $wm.move: %v", err)
	}
	if err := lit.Publish("$wm.move", Message{}); err != nil {
		t.Fatalf("literal $wm.> refused: %v", err)
	}
	if err := lit.Publish("$wm.close", Message{}); !errors.Is(err, api.ErrPermissionDenied) {
		t.Fatalf("denied $wm.close: %v", err)
	}
	if err := lit.Publish("$sys.process.x.crashed", Message{}); !errors.Is(err, api.ErrPermissionDenied) {
		t.Fatalf("a module published on $sys.: %v", err)
	}
	m, err := wm.Mailbox().Recv(ctxTimeout(t, 5*time.Second))
	if err != nil || m.Subject != "$wm.move" || m.From != "lit" {
		t.Fatalf("got %+v, %v", m, err)
	}
}
