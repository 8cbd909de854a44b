package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"gatehouse/keys"
	"gatehouse/sshd"
)

// reloadState is what Reload reads again.
type reloadState struct {
	config     string // --config, "" for none
	levelFixed bool   // --log-level came from the environment or a flag
	blocklist  *keys.Blocklist
	revoked    *sshd.RevocationList // nil without --revoked-certs
}

// reloadOnHangup reloads on each SIGHUP until ctx is done.
func (m *Main) reloadOnHangup(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := m.Reload(); err != nil {
				m.Logger.Error("reload", "err", err)
			}
		}
	}
}

// Reload reads again what can change without a restart, and without
// dropping a connection: the key blocklist and the revoked certificates
// files (also re-read when they change; this reads them even if they
// look unchanged), and the log level from the configuration file, unless
// the environment or a flag set it. It logs what it read.
//
// Errors: the configuration file's, or a list's (which then refuses
// every key, or every certificate, until it reads: failing closed).
func (m *Main) Reload() error {
	var errs []error
	if m.reload.config != "" && !m.reload.levelFixed && m.level != nil {
		level, err := configLevel(m.reload.config)
		if err != nil {
			errs = append(errs, err)
		} else {
			m.level.Set(level)
		}
	}
	if m.reload.blocklist != nil {
		errs = append(errs, m.reload.blocklist.Reload())
	}
	if m.reload.revoked != nil {
		errs = append(errs, m.reload.revoked.Reload())
	}
	err := errors.Join(errs...)
	level := slog.LevelInfo
	if m.level != nil {
		level = m.level.Level()
	}
	m.Logger.Info("reloaded", "log_level", level, "revoked_certs", m.reload.revoked != nil, "ok", err == nil)
	return err
}

// configLevel reads log-level from the configuration file at path: the
// last one set, or info.
func configLevel(path string) (slog.Level, error) {
	lines, err := readConfig(path)
	if err != nil {
		return 0, err
	}
	level := slog.LevelInfo
	for _, l := range lines {
		if l.name == "log-level" {
			if err := level.UnmarshalText([]byte(l.value)); err != nil {
				return 0, fmt.Errorf("--config %s:%d: log-level: %v", path, l.n, err)
			}
		}
	}
	return level, nil
}
