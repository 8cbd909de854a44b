package main

import (
	"context"
	"flag"
	"fmt"

	"gatehouse/webhook"
)

// webhookFlags adds serve's webhook flags. --webhook-backoff is left out
// of the documentation: it is for tests, which cannot wait two minutes
// for a retry.
func webhookFlags(fs *flag.FlagSet, c *Config) {
	fs.Func("webhook-allow", "webhooks may reach this private or loopback network (repeatable)", func(s string) error {
		return appendCIDRs(&c.WebhookAllow, s)
	})
	fs.DurationVar(&c.WebhookBackoff, "webhook-backoff", c.WebhookBackoff, "first webhook retry's wait (default 2m)")
}

// startWebhooks starts the delivery worker; deliveries queued before a
// restart are due, so they go first.
func (m *Main) startWebhooks(ctx context.Context, svc *services) error {
	if err := svc.webhooks.SyncMarker(ctx); err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	m.Webhooks = svc.webhooks
	m.webhooks = &webhook.Worker{
		Hooks:   svc.webhooks,
		Allow:   m.Config.WebhookAllow,
		Backoff: m.Config.WebhookBackoff,
		Version: Version,
		Logger:  m.Logger.With("subsystem", "webhook"),
	}
	svc.sink.SetNotify(m.webhooks.Notify)
	m.webhooks.Start()
	return nil
}
