package repos

import (
	"context"
	"errors"
	"fmt"

	"gatehouse"
)

// refChecker returns the receivepack CheckRef hook for a push to r: every
// ref of the push goes through gatehouse.DecideRef for the actor in ctx.
// The facts (grant, protected patterns) are read once, when the first ref
// is checked, i.e. after the pack arrived, so a long upload does not act on
// rules that changed meanwhile. Any lookup error, or no actor in ctx,
// refuses every ref.
func (s *Service) refChecker(ctx context.Context, r *gatehouse.Repo) func(gatehouse.RefUpdate) error {
	var facts *gatehouse.AccessFacts
	var factsErr error
	loaded := false
	return func(u gatehouse.RefUpdate) error {
		if !loaded {
			loaded = true
			facts, factsErr = s.refFacts(ctx, r)
			if factsErr != nil {
				s.Logger.Error("access facts for push failed", "repo", r.FullName(), "err", factsErr)
			}
		}
		if factsErr != nil {
			return errors.New("internal error")
		}
		if d := gatehouse.DecideRef(*facts, u); !d.Allow {
			s.auditRefusal(ctx, facts.Actor, r, u, d.Reason)
			return errors.New(d.Reason)
		}
		// A push under a step-up policy for protected branches only,
		// without an open window (set by the SSH front end).
		if hint, ok := gatehouse.StepUpHintFromContext(ctx); ok && gatehouse.StepUpRefNeeded(facts.Protected, u) {
			s.auditRefusal(ctx, facts.Actor, r, u, hint)
			return errors.New(hint)
		}
		return nil
	}
}

func (s *Service) refFacts(ctx context.Context, r *gatehouse.Repo) (*gatehouse.AccessFacts, error) {
	actor, ok := gatehouse.ActorFromContext(ctx)
	if !ok {
		return nil, errors.New("no actor in context")
	}
	facts, err := s.RepoStore.AccessFacts(ctx, actor, r.Owner, r.Name)
	if err != nil {
		return nil, err
	}
	if facts.Repo == nil || facts.Repo.ID != r.ID {
		// Deleted or replaced since the push was authorized.
		return nil, fmt.Errorf("repository %s changed during the push", r.FullName())
	}
	facts.AnonRead = s.AnonRead
	if s.Protection != nil {
		pbs, err := s.Protection.FindProtectedBranches(ctx, r.Owner, r.Name)
		if err != nil {
			return nil, err
		}
		for _, pb := range pbs {
			facts.Protected = append(facts.Protected, *pb)
		}
	}
	return facts, nil
}

// checkRepoCount refuses a new repository for owner once owner has
// MaxReposPerUser. The count and the insert are separate transactions, so
// concurrent creations may overshoot by a few; the bound is against
// runaway scripts, not an exact quota.
func (s *Service) checkRepoCount(ctx context.Context, owner string) error {
	if s.MaxReposPerUser <= 0 {
		return nil
	}
	rs, err := s.RepoStore.FindRepos(ctx, gatehouse.RepoFilter{Owner: owner})
	if err != nil {
		return err
	}
	if len(rs) >= s.MaxReposPerUser {
		return fmt.Errorf("%s already has %d repositories, the most allowed: %w", owner, len(rs), gatehouse.ErrLimit)
	}
	return nil
}

func (s *Service) auditRefusal(ctx context.Context, actor gatehouse.Actor, r *gatehouse.Repo, u gatehouse.RefUpdate, reason string) {
	s.Logger.Info("ref refused", "repo", r.FullName(), "actor", actor.Name(), "ref", u.Name, "reason", reason)
	if s.Audit == nil {
		return
	}
	e := &gatehouse.AuditEvent{Actor: actor.Name(), Action: gatehouse.AuditRefused, Repo: r.FullName(),
		Detail: fmt.Sprintf("push %s %s %s: %s", u.Name, u.Old, u.New, reason)}
	if err := s.Audit.RecordEvent(context.WithoutCancel(ctx), e); err != nil {
		s.Logger.Error("audit write failed", "err", err)
	}
}
