package gatehouse

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// WebhookScope is what a webhook listens to.
type WebhookScope string

const (
	// HookRepo: one repository's events.
	HookRepo WebhookScope = "repo"
	// HookOrg: the events of every repository an organization owns.
	HookOrg WebhookScope = "org"
	// HookSite: every repository's events; site admins only.
	HookSite WebhookScope = "site"
)

// Audit actions for webhooks.
const (
	AuditWebhookCreate    = "webhook.create"
	AuditWebhookDelete    = "webhook.delete"
	AuditWebhookRedeliver = "webhook.redeliver"
)

// Webhook event names, as X-Gatehouse-Event (and X-GitHub-Event) carry
// them.
const (
	HookEventPush       = "push"
	HookEventCreate     = "create"
	HookEventDelete     = "delete"
	HookEventRepository = "repository"
	HookEventMember     = "member"
)

// HookEvents are the events a webhook may listen to, and the default.
var HookEvents = []string{HookEventPush, HookEventCreate, HookEventDelete, HookEventRepository, HookEventMember}

// Webhook is a URL that is sent a signed JSON payload for each matching
// event. Secret is never shown back: JSON leaves it out, and listings say
// only whether there is one.
type Webhook struct {
	ID    int64        `json:"id"`
	Scope WebhookScope `json:"scope"`
	// Target is the repository (owner/name) or organization the hook
	// belongs to; empty for a site hook.
	Target    string   `json:"target,omitempty"`
	URL       string   `json:"url"`
	Secret    string   `json:"-"`
	HasSecret bool     `json:"has_secret"`
	Events    []string `json:"events"`
	// InsecureSkipVerify accepts any TLS certificate from the target.
	InsecureSkipVerify bool      `json:"insecure_skip_verify,omitempty"`
	Active             bool      `json:"active"`
	CreatedAt          time.Time `json:"created_at"`
}

// Wants reports whether h listens to event.
func (h *Webhook) Wants(event string) bool { return slices.Contains(h.Events, event) }

// MaxWebhookURL bounds a webhook's URL; MaxWebhookSecret its secret.
const (
	MaxWebhookURL    = 2048
	MaxWebhookSecret = 1024
)

// ValidateWebhook checks h's URL, events and secret, filling the default
// events when there are none. Whether the URL's address may be reached is
// decided when it is dialled, not here.
func ValidateWebhook(h *Webhook) error {
	if len(h.URL) > MaxWebhookURL {
		return fmt.Errorf("webhook URL over %d bytes: %w", MaxWebhookURL, ErrInvalid)
	}
	u, err := url.Parse(h.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Errorf("webhook URL %q must be http:// or https:// with a host and no user: %w", h.URL, ErrInvalid)
	}
	if len(h.Secret) > MaxWebhookSecret {
		return fmt.Errorf("webhook secret over %d bytes: %w", MaxWebhookSecret, ErrInvalid)
	}
	if len(h.Events) == 0 {
		h.Events = slices.Clone(HookEvents)
	}
	for _, e := range h.Events {
		if !slices.Contains(HookEvents, e) {
			return fmt.Errorf("webhook event %q must be one of %s: %w", e, strings.Join(HookEvents, ", "), ErrInvalid)
		}
	}
	slices.Sort(h.Events)
	h.Events = slices.Compact(h.Events)
	switch h.Scope {
	case HookSite:
		if h.Target != "" {
			return fmt.Errorf("a site webhook has no repository or organization: %w", ErrInvalid)
		}
	case HookOrg:
		if err := ValidateName(h.Target); err != nil {
			return err
		}
	case HookRepo:
		if _, _, err := ParseRepoPath(h.Target); err != nil {
			return err
		}
	default:
		return fmt.Errorf("webhook scope %q must be repo, org or site: %w", h.Scope, ErrInvalid)
	}
	return nil
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Delivery is one event queued for one webhook: the payload is built
// when the event happens and sent, retried if need be, by the delivery
// worker.
type Delivery struct {
	ID     string `json:"id"` // a UUID, sent as X-Gatehouse-Delivery
	HookID int64  `json:"hook_id"`
	Event  string `json:"event"`
	Action string `json:"action,omitempty"`
	Repo   string `json:"repo,omitempty"`
	// Payload is the JSON body, as signed.
	Payload  []byte `json:"-"`
	Attempts int    `json:"attempts"`
	Status   string `json:"status"`
	// NextAt is when the next attempt is due; nil once delivered or
	// given up.
	NextAt    *time.Time `json:"next_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	// Log is the attempts, oldest first, when asked for.
	Log []*DeliveryAttempt `json:"attempts_log,omitempty"`
}

// DeliveryAttempt is one try at sending a delivery.
type DeliveryAttempt struct {
	N          int           `json:"n"`
	StartedAt  time.Time     `json:"started_at"`
	Duration   time.Duration `json:"duration_ns"`
	StatusCode int           `json:"status_code,omitempty"`
	Error      string        `json:"error,omitempty"`
	// Response is the first KiB of the response body.
	Response string `json:"response,omitempty"`
}

// MaxDeliveryResponse is how much of a response body an attempt keeps.
const MaxDeliveryResponse = 1024

// NewDeliveryID returns a random (version 4) UUID.
func NewDeliveryID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// WebhookFilter narrows FindWebhooks: a scope and its target.
type WebhookFilter struct {
	Scope  WebhookScope // empty: all
	Target string
}

// WebhookService keeps webhooks and their delivery queue.
type WebhookService interface {
	// CreateWebhook stores h (validated), filling ID and CreatedAt.
	// ErrNotFound for a missing repository or organization.
	CreateWebhook(ctx context.Context, h *Webhook) error
	// FindWebhook returns the hook with its secret, or ErrNotFound.
	FindWebhook(ctx context.Context, id int64) (*Webhook, error)
	// FindWebhooks lists the hooks f selects, by ID, without secrets.
	FindWebhooks(ctx context.Context, f WebhookFilter) ([]*Webhook, error)
	// DeleteWebhook removes a hook and its deliveries; ErrNotFound.
	DeleteWebhook(ctx context.Context, id int64) error
	// AnyWebhooks reports whether any webhook exists. It is answered from
	// a cache that every change (in any process) invalidates, so that a
	// server without webhooks sends no query per event.
	AnyWebhooks(ctx context.Context) (bool, error)
	// MatchWebhooks returns the active hooks, with secrets, that hear
	// event on repository owner/name: its own, its owner's (if an
	// organization) and the site's.
	MatchWebhooks(ctx context.Context, owner, name, event string) ([]*Webhook, error)

	// EnqueueDeliveries stores ds as pending and due now, all or none,
	// filling IDs that are empty.
	EnqueueDeliveries(ctx context.Context, ds []*Delivery) error
	// ClaimDeliveries takes up to limit deliveries due at now, oldest
	// first: each gets its next attempt recorded as started, and is not
	// due again before retry(attempt number) unless FinishAttempt says
	// otherwise. A crash mid-send thus leaves a recorded attempt, and the
	// send is retried.
	ClaimDeliveries(ctx context.Context, now time.Time, limit int, retry func(n int) (time.Duration, bool)) ([]*Delivery, error)
	// FinishAttempt records how attempt a of delivery id ended and sets
	// its status: delivered, pending again at next, or failed (next nil
	// and not delivered).
	FinishAttempt(ctx context.Context, id string, a *DeliveryAttempt, delivered bool, next *time.Time) error
	// NextDue is the earliest due time of a pending delivery, or nil.
	NextDue(ctx context.Context) (*time.Time, error)
	// FindDeliveries lists a hook's newest deliveries, newest first, with
	// their attempts.
	FindDeliveries(ctx context.Context, hookID int64, limit int) ([]*Delivery, error)
	// FindDelivery returns one delivery with its payload and attempts.
	FindDelivery(ctx context.Context, id string) (*Delivery, error)
	// PruneDeliveries removes finished deliveries created before t, and
	// returns how many.
	PruneDeliveries(ctx context.Context, before time.Time) (int64, error)
}
