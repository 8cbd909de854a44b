package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"gatehouse"
)

// Worker defaults.
const (
	// DefaultBackoff is the wait before the first retry; each next one
	// doubles it, so 6 attempts span about an hour (2+4+8+16+32 minutes).
	DefaultBackoff     = 2 * time.Minute
	DefaultMaxAttempts = 6
	// Timeout bounds one attempt, connection and response included.
	Timeout = 10 * time.Second
	// DefaultRetention is how long finished deliveries are kept.
	DefaultRetention = 14 * 24 * time.Hour
	// parallel is how many deliveries are sent at once.
	parallel = 8
	// maxPoll is the longest the worker sleeps without looking at the
	// queue: other processes (the command line's redeliver) queue too.
	maxPoll = 5 * time.Second
)

// Worker sends queued deliveries. Start it once; Close stops it, cutting
// attempts under way short (they are retried at the next start).
type Worker struct {
	Hooks gatehouse.WebhookService
	// Allow lists the networks webhooks may reach although private or
	// loopback (--webhook-allow).
	Allow []netip.Prefix
	// Backoff is the first retry's wait (DefaultBackoff if zero) and
	// MaxAttempts the tries before a delivery fails (DefaultMaxAttempts).
	Backoff     time.Duration
	MaxAttempts int
	// Retention is how long finished deliveries are kept
	// (DefaultRetention if zero).
	Retention time.Duration
	// Version goes into the User-Agent.
	Version string
	Logger  *slog.Logger

	wake    chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
	clients [2]*http.Client // [insecure]
}

// Notify wakes the worker: deliveries were queued.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Start begins sending in the background, deliveries left from before a
// restart first (they are due).
func (w *Worker) Start() {
	if w.Backoff <= 0 {
		w.Backoff = DefaultBackoff
	}
	if w.MaxAttempts <= 0 {
		w.MaxAttempts = DefaultMaxAttempts
	}
	if w.Retention <= 0 {
		w.Retention = DefaultRetention
	}
	if w.Logger == nil {
		w.Logger = slog.Default()
	}
	w.wake = make(chan struct{}, 1)
	w.done = make(chan struct{})
	for i := range w.clients {
		tr := &http.Transport{
			Proxy:                 nil, // a proxy would be dialled instead of the target, unchecked
			DialContext:           dialer(w.Allow).DialContext,
			TLSClientConfig:       &tls.Config{InsecureSkipVerify: i == 1},
			TLSHandshakeTimeout:   Timeout,
			ResponseHeaderTimeout: Timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       time.Minute,
		}
		w.clients[i] = &http.Client{
			Transport: tr,
			Timeout:   Timeout,
			// A redirect is answered, not followed: it could lead
			// anywhere, and the receiver is to be configured rightly.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go w.run(ctx)
}

// Close stops the worker and waits for it.
func (w *Worker) Close() {
	if w.cancel == nil {
		return
	}
	w.cancel()
	<-w.done
	for _, c := range w.clients {
		c.CloseIdleConnections()
	}
}

// retry is the wait before attempt n+1, if there is one.
func (w *Worker) retry(n int) (time.Duration, bool) {
	if n >= w.MaxAttempts {
		return 0, false
	}
	return w.Backoff << (n - 1), true
}

func (w *Worker) run(ctx context.Context) {
	defer close(w.done)
	lastPrune := time.Time{}
	for ctx.Err() == nil {
		exist, err := w.Hooks.AnyWebhooks(ctx)
		if err != nil {
			w.Logger.Error("webhooks: cannot tell whether any exist", "err", err)
		}
		wait := maxPoll
		if exist {
			n, err := w.sendDue(ctx)
			if err == nil && n == parallel {
				continue // more may be due
			}
			// After a failed claim (the database busy or broken), the
			// next try waits the full poll rather than spin.
			if next, err2 := w.Hooks.NextDue(ctx); err == nil && err2 == nil && next != nil {
				wait = min(wait, max(0, time.Until(*next)))
			}
			if time.Since(lastPrune) > time.Hour {
				lastPrune = time.Now()
				if n, err := w.Hooks.PruneDeliveries(ctx, time.Now().Add(-w.Retention)); err != nil {
					w.Logger.Error("webhooks: prune failed", "err", err)
				} else if n > 0 {
					w.Logger.Info("webhooks: old deliveries pruned", "deliveries", n)
				}
			}
		}
		wait = min(wait, w.Backoff)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// sendDue claims what is due and sends it, returning how many it claimed.
func (w *Worker) sendDue(ctx context.Context) (int, error) {
	ds, err := w.Hooks.ClaimDeliveries(ctx, time.Now(), parallel, w.retry)
	if err != nil {
		if ctx.Err() == nil {
			w.Logger.Error("webhooks: claim failed", "err", err)
		}
		return 0, err
	}
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.deliver(ctx, d)
		}()
	}
	wg.Wait()
	return len(ds), nil
}

// deliver makes delivery d's attempt (claimed already) and records it.
func (w *Worker) deliver(ctx context.Context, d *gatehouse.Delivery) {
	log := w.Logger.With("delivery", d.ID, "hook", d.HookID, "event", d.Event, "attempt", d.Attempts)
	h, err := w.Hooks.FindWebhook(ctx, d.HookID)
	if err != nil {
		log.Warn("webhooks: hook gone", "err", err)
		return
	}
	a := &gatehouse.DeliveryAttempt{N: d.Attempts, StartedAt: time.Now()}
	code, resp, err := w.Send(ctx, h, d)
	a.Duration, a.StatusCode, a.Response = time.Since(a.StartedAt), code, resp
	retryable := false
	switch {
	case err != nil:
		a.Error, retryable = err.Error(), true
	case code >= 200 && code < 300:
	case code == http.StatusTooManyRequests || code >= 500:
		a.Error, retryable = http.StatusText(code), true
	default:
		a.Error = fmt.Sprintf("answered %d %s; not retried", code, http.StatusText(code))
	}
	delivered := err == nil && code >= 200 && code < 300
	next := d.NextAt // the claim's: the retry after this attempt, or nil
	if !retryable {
		next = nil
	} else if ctx.Err() != nil && next != nil {
		// Cut short by shutdown: due again at the next start.
		now := time.Now()
		next = &now
		a.Error = "interrupted by shutdown"
	}
	if err := w.Hooks.FinishAttempt(context.WithoutCancel(ctx), d.ID, a, delivered, next); err != nil {
		log.Error("webhooks: attempt not recorded", "err", err)
	}
	switch {
	case delivered:
		log.Debug("webhook delivered", "status", code, "duration", a.Duration)
	case next != nil:
		log.Info("webhook delivery failed; will retry", "status", code, "err", a.Error, "retry_at", next)
	default:
		log.Warn("webhook delivery failed", "status", code, "err", a.Error)
	}
}

// Send posts d's payload to h once, signed, and returns the status and
// the first KiB of the response.
func (w *Worker) Send(ctx context.Context, h *gatehouse.Webhook, d *gatehouse.Delivery) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Gatehouse-Hookshot/"+w.Version)
	req.Header.Set("X-Gatehouse-Event", d.Event)
	req.Header.Set("X-GitHub-Event", d.Event)
	req.Header.Set("X-Gatehouse-Delivery", d.ID)
	req.Header.Set("X-GitHub-Delivery", d.ID)
	req.Header.Set("X-Gatehouse-Hook-ID", fmt.Sprint(h.ID))
	if h.Secret != "" {
		req.Header.Set("X-Hub-Signature-256", Sign(h.Secret, d.Payload))
	}
	client := w.clients[0]
	if h.InsecureSkipVerify {
		client = w.clients[1]
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap() // the cause, without the URL repeated
		}
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, gatehouse.MaxDeliveryResponse))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	return resp.StatusCode, string(bytes.ToValidUTF8(body, nil)), nil
}

// Sign is the X-Hub-Signature-256 value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
