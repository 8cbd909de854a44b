package main

import (
	"log/slog"
	"path/filepath"

	"gatehouse/backend"
	"gatehouse/keys"
	"gatehouse/lfs"
	"gatehouse/repos"
	"gatehouse/repos/browse"
	"gatehouse/webhook"
)

// services are the stores on one database and the use-case layer on top
// of them. serve and every command line build theirs with newServices,
// so that both are wired the same way. The command line starts from
// serve's defaults with its own --data and --max-repos-per-user; it takes
// no --key-blocklist, so a key only a custom blocklist names is refused
// at login, not when added.
type services struct {
	users      *keys.UserService
	keys       *keys.KeyService
	deployKeys *keys.DeployKeyService
	audit      *keys.AuditService
	logins     *keys.LoginService
	repos      *repos.Service
	backend    *backend.Backend
	// keyPolicies is read by sshd at each login too.
	keyPolicies *keys.KeyPolicyService
	// webhooks and the sink queueing deliveries: events of the command
	// line are queued too, and sent by the server's worker.
	webhooks *keys.WebhookService
	sink     *webhook.Sink
	// authFailures shares failed-login counts with the other nodes.
	authFailures *keys.AuthFailureService
}

// newServices builds the services on db for the data folder and limits
// in c. logger receives what the repository service logs.
func newServices(db *keys.DB, c *Config, logger *slog.Logger) (*services, error) {
	s := &services{
		users:      keys.NewUserService(db),
		keys:       keys.NewKeyService(db),
		deployKeys: keys.NewDeployKeyService(db),
		audit:      keys.NewAuditService(db),
		logins:     keys.NewLoginService(db),

		authFailures: keys.NewAuthFailureService(db),
	}
	if c.KeyBlocklist != "" {
		bl, err := keys.NewBlocklist(c.KeyBlocklist, true)
		if err != nil {
			return nil, err
		}
		s.keys.Blocklist, s.deployKeys.Blocklist = bl, bl
	}
	protection := keys.NewProtectionService(db)
	r := repos.NewService(keys.NewRepoStore(db), filepath.Join(c.Data, "repos"))
	r.AnonRead = c.AnonRead
	r.Agent = "gatehouse/" + Version
	r.MaxPushSize = c.MaxPushSize
	r.MaxObjectSize = c.MaxObjectSize
	r.MaxRefUpdates = c.MaxRefUpdates
	r.MaxReposPerUser = c.MaxReposPerUser
	r.HooksDir = filepath.Join(c.Data, "hooks")
	r.HookTimeout = c.HookTimeout
	r.Protection = protection
	r.Audit = s.audit
	r.Logger = logger.With("subsystem", "repos")
	if l := keys.NewRepoLockService(db); l != nil { // nodes on PostgreSQL
		r.Locker, r.LockWait = l, c.LockWait
	}
	s.repos = r
	s.webhooks = keys.NewWebhookService(db)
	s.sink = &webhook.Sink{Hooks: s.webhooks, Repos: r, GitDir: r.Dir, Logger: logger.With("subsystem", "webhook")}
	if c.SSHAddr != "" {
		s.sink.SetSSHBase("ssh://git@" + publicAddr(c.SSHAddr, c.PublicHost) + "/")
	}
	s.backend = &backend.Backend{
		Users:      s.users,
		Keys:       s.keys,
		Repos:      r,
		Orgs:       keys.NewOrgService(db),
		Tokens:     keys.NewTokenService(db),
		DeployKeys: s.deployKeys,
		Protection: protection,
		Audit:      s.audit,
		Logins:     s.logins,
		Git:        r,
		Browse:     &browse.Browser{Dir: r.Dir},
		Webhooks:   s.webhooks,
		Events:     s.sink,
		LFS: &lfs.Server{
			Store:         &lfs.Store{Dir: r.Dir},
			Locks:         keys.NewLFSLockStore(db),
			MaxObjectSize: c.MaxLFSObjectSize,
			Quota:         c.LFSQuota,
			Logger:        logger.With("subsystem", "lfs"),
		},
		Logger: logger,
	}
	s.keyPolicies = keys.NewKeyPolicyService(db)
	s.backend.KeyPolicies = s.keyPolicies
	s.backend.StepUp, s.backend.StepUpWindow = keys.NewStepUpService(db), c.StepUpWindow
	// A push into a missing repository creates it: raised as the API's
	// creation is.
	r.Created = s.backend.RepoCreatedByPush
	return s, nil
}
