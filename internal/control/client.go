package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/orbitalfoundation/orbital/api"
)

// Client talks to a local node's control API.
type Client struct {
	info api.ControlInfo
	http *http.Client
}

// Dial reads home/node.json and returns a client for that node. It fails
// with a hint when no node is running.
func Dial(home string) (*Client, error) {
	data, err := os.ReadFile(InfoPath(home))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no node is running for %s (start one with `orbital up`)", home)
	}
	if err != nil {
		return nil, err
	}
	var info api.ControlInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("%s: %w", InfoPath(home), err)
	}
	return &Client{info: info, http: &http.Client{}}, nil
}

// Addr is the node's control address.
func (c *Client) Addr() string { return c.info.Addr }

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	return c.doRaw(ctx, method, path, raw, out)
}

// send makes one authenticated request and returns the response when its
// status is 200; the caller closes its body.
func (c *Client) send(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.info.Addr+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.info.Token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("node at %s: %w (is `orbital up` still running?)", c.info.Addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, respError(method, path, resp)
	}
	return resp, nil
}

// respError turns an error response into an error of the class it names.
func respError(method, path string, resp *http.Response) error {
	var e struct{ Error, Class string }
	_ = json.NewDecoder(resp.Body).Decode(&e)
	class := classNamed(e.Class)
	if class == nil {
		class = map[int]error{404: api.ErrNotFound, 403: api.ErrPermissionDenied, 400: api.ErrInvalid, 504: api.ErrTimeout, 503: api.ErrUnavailable}[resp.StatusCode]
	}
	if class == nil {
		return fmt.Errorf("%s %s: %s", method, path, e.Error)
	}
	return &remoteError{msg: e.Error, class: class}
}

// remoteError is an error reported by the node: its message as the node
// wrote it, and its class for errors.Is.
type remoteError struct {
	msg   string
	class error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.class }

// Call calls lib.fn on the node with args and returns the result.
func (c *Client) Call(ctx context.Context, lib, fn string, args []byte, timeout time.Duration) ([]byte, error) {
	path := "/api/v1/call/" + url.PathEscape(lib) + "/" + url.PathEscape(fn) + "?timeout_ms=" + strconv.FormatInt(timeout.Milliseconds(), 10)
	resp, err := c.send(ctx, "POST", path, args)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// Libraries lists the node's libraries.
func (c *Client) Libraries(ctx context.Context) ([]api.LibraryInfo, error) {
	var ls []api.LibraryInfo
	return ls, c.do(ctx, "GET", "/api/v1/libraries", nil, &ls)
}

// Processes returns the process table.
func (c *Client) Processes(ctx context.Context) ([]api.ProcessInfo, error) {
	var ps []api.ProcessInfo
	return ps, c.do(ctx, "GET", "/api/v1/processes", nil, &ps)
}

// Op runs stop, restart or kill on a process.
func (c *Client) Op(ctx context.Context, name, op string) error {
	return c.do(ctx, "POST", "/api/v1/processes/"+name+"/"+op, nil, nil)
}

// OpOn runs start or stop on a process of another node of the cluster.
func (c *Client) OpOn(ctx context.Context, node, name, op string) error {
	return c.do(ctx, "POST", "/api/v1/processes/"+url.PathEscape(name)+"/"+op+"?node="+url.QueryEscape(node), nil, nil)
}

// Nodes returns the cluster's nodes as this node knows them (this node
// alone, with Stats.Cluster "", when it is in no cluster).
func (c *Client) Nodes(ctx context.Context) (api.ClusterView, error) {
	var v api.ClusterView
	return v, c.do(ctx, "GET", "/api/v1/nodes", nil, &v)
}

// ProcessesAll returns every node's processes (Node set) and the nodes
// that did not answer.
func (c *Client) ProcessesAll(ctx context.Context) (procs []api.ProcessInfo, missing []string, err error) {
	resp, err := c.send(ctx, "GET", "/api/v1/processes?all=1", nil)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if h := resp.Header.Get(MissingNodesHeader); h != "" {
		missing = strings.Split(h, ",")
	}
	if err := json.NewDecoder(resp.Body).Decode(&procs); err != nil {
		return nil, nil, fmt.Errorf("control: processes: %w", err)
	}
	return procs, missing, nil
}

// Publish publishes data on subject.
func (c *Client) Publish(ctx context.Context, subject, data string) error {
	return c.do(ctx, "POST", "/api/v1/bus/publish", map[string]string{"subject": subject, "data": data}, nil)
}

// Send sends data directly to a process.
func (c *Client) Send(ctx context.Context, to, data string) error {
	return c.do(ctx, "POST", "/api/v1/bus/send", map[string]string{"to": to, "data": data}, nil)
}

// Request sends a request and returns the reply's data.
func (c *Client) Request(ctx context.Context, subject, data string, timeoutMS int) (string, error) {
	var out struct{ Data string }
	err := c.do(ctx, "POST", "/api/v1/bus/request", map[string]any{"subject": subject, "data": data, "timeout_ms": timeoutMS}, &out)
	return out.Data, err
}

// Subscribe streams messages matching pattern to fn until ctx ends or fn
// returns an error.
func (c *Client) Subscribe(ctx context.Context, pattern string, fn func(api.BusMessage) error) error {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+c.info.Addr+"/api/v1/bus/subscribe?subject="+pattern, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.info.Token)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("subscribe %s: %s", pattern, e.Error)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var m api.BusMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

// doRaw is do with a raw request body.
func (c *Client) doRaw(ctx context.Context, method, path string, body []byte, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// Install installs a package on the node (and runs it per its triggers).
func (c *Client) Install(ctx context.Context, pkg []byte, force bool) (api.ModuleRecord, error) {
	var rec api.ModuleRecord
	return rec, c.doRaw(ctx, "POST", "/api/v1/modules?force="+strconv.FormatBool(force), pkg, &rec)
}

// Modules lists the installed modules.
func (c *Client) Modules(ctx context.Context) ([]api.ModuleSummary, error) {
	var out []api.ModuleSummary
	return out, c.do(ctx, "GET", "/api/v1/modules", nil, &out)
}

// ModuleInfo describes name@version ("" = the active version).
func (c *Client) ModuleInfo(ctx context.Context, name, version string) (api.ModuleDetail, error) {
	var out api.ModuleDetail
	return out, c.do(ctx, "GET", "/api/v1/modules/"+name+"?version="+url.QueryEscape(version), nil, &out)
}

// Remove uninstalls name@version ("" = every version).
func (c *Client) Remove(ctx context.Context, name, version string, force bool) ([]api.ModuleRecord, error) {
	var out []api.ModuleRecord
	return out, c.do(ctx, "DELETE", "/api/v1/modules/"+name+"?version="+url.QueryEscape(version)+"&force="+strconv.FormatBool(force), nil, &out)
}

// Pin makes version the active one of name ("" unpins).
func (c *Client) Pin(ctx context.Context, name, version string) error {
	return c.do(ctx, "POST", "/api/v1/pin/"+name+"?version="+url.QueryEscape(version), nil, nil)
}

// Query asks the registry a question (kind is one of the api.Query*
// constants); the answer is JSON (a list of the kind's answer type).
func (c *Client) Query(ctx context.Context, kind, arg string) (json.RawMessage, error) {
	var out json.RawMessage
	return out, c.do(ctx, "GET", "/api/v1/query/"+url.PathEscape(kind)+"?q="+url.QueryEscape(arg), nil, &out)
}

// Logs returns up to limit (≤ 0: all kept) of process name's log lines
// after sequence number after, and the sequence number to ask after next.
func (c *Client) Logs(ctx context.Context, name string, after uint64, limit int) ([]api.LogLine, uint64, error) {
	var out api.LogPage
	err := c.do(ctx, "GET", fmt.Sprintf("/api/v1/processes/%s/logs?after=%d&limit=%d", url.PathEscape(name), after, limit), nil, &out)
	return out.Lines, out.Next, err
}

// FollowLogs streams process name's log lines after sequence number after
// to fn, as they are logged, until ctx ends (nil) or fn or the stream
// fails.
func (c *Client) FollowLogs(ctx context.Context, name string, after uint64, fn func(api.LogLine) error) error {
	resp, err := c.send(ctx, "GET", fmt.Sprintf("/api/v1/processes/%s/logs/stream?after=%d", url.PathEscape(name), after), nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue // event names, ids, comments, blank separators
		}
		var l api.LogLine
		if err := json.Unmarshal([]byte(data), &l); err != nil {
			return fmt.Errorf("logs of %s: %w", name, err)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("logs of %s: %w", name, err)
	}
	return fmt.Errorf("logs of %s: %w: the stream ended (the node stopped or the process was removed)", name, api.ErrClosed)
}

// Screen describes the node's screen and its windows.
func (c *Client) Screen(ctx context.Context) (api.ScreenInfo, error) {
	var v api.ScreenInfo
	return v, c.do(ctx, "GET", "/api/v1/screen", nil, &v)
}

// Screenshot returns a PNG of the screen (window "") or of one window.
func (c *Client) Screenshot(ctx context.Context, window string) ([]byte, error) {
	path := "/api/v1/screen.png"
	if window != "" {
		path += "?window=" + url.QueryEscape(window)
	}
	resp, err := c.send(ctx, "GET", path, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("control: screenshot: %w", err)
	}
	return b, nil
}

// Window changes a window.
func (c *Client) Window(ctx context.Context, op api.WindowOp) error {
	return c.do(ctx, "POST", "/api/v1/windows/"+url.PathEscape(op.Window), op, nil)
}
