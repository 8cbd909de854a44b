package backend

import (
	"context"
	"fmt"

	"gatehouse"
)

// Webhooks: a repository's are its admins', an organization's its
// admins', the site's the site admins'. Deliveries are read and sent
// again by whoever administers the hook.

// hookAccess returns the actor in ctx if they administer what a hook of
// scope and target belongs to.
func (b *Backend) hookAccess(ctx context.Context, scope gatehouse.WebhookScope, target string) (gatehouse.Actor, error) {
	a, err := actor(ctx)
	if err != nil {
		return a, err
	}
	if b.Webhooks == nil {
		return a, ErrUnavailable
	}
	switch scope {
	case gatehouse.HookRepo:
		owner, name, err := gatehouse.ParseRepoPath(target)
		if err != nil {
			return a, err
		}
		return a, b.repoAdmin(ctx, a, owner, name)
	case gatehouse.HookOrg:
		if err := gatehouse.ValidateName(target); err != nil {
			return a, err
		}
		return a, b.orgAccess(ctx, a, target, gatehouse.AccessAdmin)
	case gatehouse.HookSite:
		return a, requireSiteAdmin(a, "manage site webhooks")
	}
	return a, fmt.Errorf("webhook scope %q must be repo, org or site: %w", scope, gatehouse.ErrInvalid)
}

// hookActor returns hook id and the actor in ctx if they administer it.
// A hook they may not see is ErrNotFound.
func (b *Backend) hookActor(ctx context.Context, id int64) (*gatehouse.Webhook, gatehouse.Actor, error) {
	if b.Webhooks == nil {
		return nil, gatehouse.Actor{}, ErrUnavailable
	}
	if _, err := actor(ctx); err != nil {
		return nil, gatehouse.Actor{}, err
	}
	h, err := b.Webhooks.FindWebhook(ctx, id)
	if err != nil {
		return nil, gatehouse.Actor{}, err
	}
	a, err := b.hookAccess(ctx, h.Scope, h.Target)
	if err != nil {
		return nil, a, fmt.Errorf("webhook %d: %w", id, gatehouse.ErrNotFound)
	}
	return h, a, nil
}

// CreateWebhook adds h where the actor may. The secret is kept for
// signing and never shown again.
func (b *Backend) CreateWebhook(ctx context.Context, h *gatehouse.Webhook) error {
	a, err := b.hookAccess(ctx, h.Scope, h.Target)
	if err != nil {
		return err
	}
	if err := b.Webhooks.CreateWebhook(ctx, h); err != nil {
		return err
	}
	h.Secret = ""
	b.publish(ctx, a, gatehouse.AuditWebhookCreate, hookRepo(h), hookDetail(h))
	return nil
}

// FindWebhooks lists the hooks of f's scope and target, if the actor
// administers it; with no scope, every hook, for site admins.
func (b *Backend) FindWebhooks(ctx context.Context, f gatehouse.WebhookFilter) ([]*gatehouse.Webhook, error) {
	scope := f.Scope
	if scope == "" {
		scope = gatehouse.HookSite // all of them: site admins only
	}
	if _, err := b.hookAccess(ctx, scope, f.Target); err != nil {
		return nil, err
	}
	return b.Webhooks.FindWebhooks(ctx, f)
}

// FindWebhook returns hook id, without its secret.
func (b *Backend) FindWebhook(ctx context.Context, id int64) (*gatehouse.Webhook, error) {
	h, _, err := b.hookActor(ctx, id)
	if err != nil {
		return nil, err
	}
	h.Secret = ""
	return h, nil
}

// DeleteWebhook removes hook id and its deliveries.
func (b *Backend) DeleteWebhook(ctx context.Context, id int64) error {
	h, a, err := b.hookActor(ctx, id)
	if err != nil {
		return err
	}
	if err := b.Webhooks.DeleteWebhook(ctx, id); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditWebhookDelete, hookRepo(h), hookDetail(h))
	return nil
}

// FindDeliveries lists hook id's newest deliveries with their attempts.
func (b *Backend) FindDeliveries(ctx context.Context, id int64, limit int) ([]*gatehouse.Delivery, error) {
	if _, _, err := b.hookActor(ctx, id); err != nil {
		return nil, err
	}
	return b.Webhooks.FindDeliveries(ctx, id, limit)
}

// FindDelivery returns delivery id with its payload and attempts, if the
// actor administers its hook.
func (b *Backend) FindDelivery(ctx context.Context, id string) (*gatehouse.Delivery, error) {
	if b.Webhooks == nil {
		return nil, ErrUnavailable
	}
	if _, err := actor(ctx); err != nil {
		return nil, err
	}
	d, err := b.Webhooks.FindDelivery(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, _, err := b.hookActor(ctx, d.HookID); err != nil {
		return nil, fmt.Errorf("webhook delivery %q: %w", id, gatehouse.ErrNotFound)
	}
	return d, nil
}

// Redeliver queues delivery id's payload again, as a new delivery (with
// its own ID and attempts) to the same hook, and returns it.
func (b *Backend) Redeliver(ctx context.Context, id string) (*gatehouse.Delivery, error) {
	if b.Webhooks == nil {
		return nil, ErrUnavailable
	}
	if _, err := actor(ctx); err != nil {
		return nil, err
	}
	d, err := b.FindDelivery(ctx, id)
	if err != nil {
		return nil, err
	}
	h, a, err := b.hookActor(ctx, d.HookID)
	if err != nil {
		return nil, err
	}
	nd := &gatehouse.Delivery{HookID: d.HookID, Event: d.Event, Action: d.Action, Repo: d.Repo, Payload: d.Payload}
	if err := b.Webhooks.EnqueueDeliveries(ctx, []*gatehouse.Delivery{nd}); err != nil {
		return nil, err
	}
	b.publish(ctx, a, gatehouse.AuditWebhookRedeliver, hookRepo(h), fmt.Sprintf("#%d %s as %s", h.ID, id, nd.ID))
	return nd, nil
}

func hookRepo(h *gatehouse.Webhook) string {
	if h.Scope == gatehouse.HookRepo {
		return h.Target
	}
	return ""
}

func hookDetail(h *gatehouse.Webhook) string {
	return fmt.Sprintf("#%d %s %s %s", h.ID, h.Scope, h.Target, h.URL)
}
