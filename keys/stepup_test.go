package keys_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/totp"
)

// enrolled makes name an enrolled user of s and returns the secret and
// the recovery codes.
func enrolled(t *testing.T, db *keys.DB, s *keys.StepUpService, name string) ([]byte, []string) {
	t.Helper()
	ctx := context.Background()
	MustCreateUser(t, db, name)
	secret := totp.NewSecret()
	if err := s.BeginEnrollment(ctx, name, secret); err != nil {
		t.Fatal(err)
	}
	codes, err := s.ConfirmEnrollment(ctx, name, "192.0.2.1", totp.Code(secret, totp.Step(db.Now())-1))
	if err != nil {
		t.Fatal(err)
	}
	return secret, codes
}

func TestStepUpService_Codes(t *testing.T) {
	eachDB(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		db.Now = func() time.Time { return now }
		s := keys.NewStepUpService(db)
		secret, recovery := enrolled(t, db, s, "alice")
		if len(recovery) != gatehouse.RecoveryCodes {
			t.Fatalf("%d recovery codes", len(recovery))
		}
		if err := s.BeginEnrollment(ctx, "alice", totp.NewSecret()); !errors.Is(err, gatehouse.ErrConflict) {
			t.Fatalf("enrolling twice: %v", err)
		}
		step := totp.Step(now)
		code := totp.Code(secret, step)
		w, err := s.RedeemCode(ctx, "alice", "192.0.2.1", code, time.Minute)
		if err != nil || !w.ExpiresAt.Equal(now.Add(time.Minute)) {
			t.Fatalf("valid code: %+v, %v", w, err)
		}
		if _, err := s.RedeemCode(ctx, "alice", "192.0.2.1", code, time.Minute); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Fatalf("reused code: %v", err)
		}
		// The step before the one used counts as used too.
		if _, err := s.RedeemCode(ctx, "alice", "192.0.2.1", totp.Code(secret, step-1), time.Minute); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Fatalf("older code: %v", err)
		}
		if _, err := s.RedeemCode(ctx, "alice", "192.0.2.1", totp.Code(secret, step+1), 0); err != nil {
			t.Fatalf("next step: %v", err)
		}
		// A recovery code works once, with or without its dashes.
		if _, err := s.RedeemCode(ctx, "alice", "192.0.2.2", recovery[0], time.Minute); err != nil {
			t.Fatalf("recovery code: %v", err)
		}
		if _, err := s.RedeemCode(ctx, "alice", "192.0.2.2", recovery[0], time.Minute); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Fatalf("reused recovery code: %v", err)
		}
		st, err := s.FindStepUpStatus(ctx, "alice")
		if err != nil || !st.Enrolled || st.RecoveryCodesLeft != gatehouse.RecoveryCodes-1 || len(st.Windows) != 2 {
			t.Fatalf("status: %+v, %v", st, err)
		}
		f, err := s.StepUpFacts(ctx, 1, "", "192.0.2.1")
		if err != nil || !f.Enrolled || !f.WindowOpen {
			t.Fatalf("facts: %+v, %v", f, err)
		}
		now = now.Add(2 * time.Minute)
		if f, _ := s.StepUpFacts(ctx, 1, "", "192.0.2.1"); f.WindowOpen {
			t.Fatal("window open after it expired")
		}

		// A right code clears the wrong ones counted so far; then wrong
		// codes lock the user out, even for a right code.
		if _, err := s.RedeemCode(ctx, "alice", "192.0.2.1", totp.Code(secret, totp.Step(now)), time.Minute); err != nil {
			t.Fatalf("code after expiry: %v", err)
		}
		for i := 1; i <= gatehouse.StepUpMaxFailures; i++ {
			_, err := s.RedeemCode(ctx, "alice", "192.0.2.3", "000000", time.Minute)
			want := gatehouse.ErrInvalid
			if i == gatehouse.StepUpMaxFailures {
				want = gatehouse.ErrLimit
			}
			if !errors.Is(err, want) {
				t.Fatalf("wrong code %d: %v", i, err)
			}
		}
		if _, err := s.RedeemCode(ctx, "alice", "192.0.2.1", totp.Code(secret, totp.Step(now)+1), time.Minute); !errors.Is(err, gatehouse.ErrLimit) {
			t.Fatalf("right code while locked out: %v", err)
		}
		// The next run of wrong codes locks out for twice as long; a right
		// code after it ends the run.
		now = now.Add(gatehouse.StepUpLockout)
		for i := 1; i <= gatehouse.StepUpMaxFailures; i++ {
			if _, err := s.RedeemCode(ctx, "alice", "192.0.2.3", "000000", time.Minute); i == gatehouse.StepUpMaxFailures && !errors.Is(err, gatehouse.ErrLimit) {
				t.Fatalf("wrong code %d of the second run: %v", i, err)
			}
		}
		now = now.Add(gatehouse.StepUpLockout)
		if _, err := s.RedeemCode(ctx, "alice", "192.0.2.1", totp.Code(secret, totp.Step(now)), time.Minute); !errors.Is(err, gatehouse.ErrLimit) {
			t.Fatalf("right code one lockout into the second, doubled one: %v", err)
		}
		now = now.Add(gatehouse.StepUpLockout)
		if _, err := s.RedeemCode(ctx, "alice", "192.0.2.1", totp.Code(secret, totp.Step(now)), time.Minute); err != nil {
			t.Fatalf("after the lockout: %v", err)
		}
		if _, err := s.RedeemCode(ctx, "alice", "192.0.2.3", "000000", time.Minute); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Fatalf("a wrong code after a right one starts a new run: %v", err)
		}

		if err := s.ResetStepUp(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		st, err = s.FindStepUpStatus(ctx, "alice")
		if err != nil || st.Enrolled || st.Pending || st.RecoveryCodesLeft != 0 || len(st.Windows) != 0 {
			t.Fatalf("status after reset: %+v, %v", st, err)
		}
		if _, err := s.RedeemCode(ctx, "alice", "192.0.2.1", totp.Code(secret, totp.Step(now)+1), time.Minute); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatalf("code after reset: %v", err)
		}
	})
}

func TestStepUpService_Policy(t *testing.T) {
	eachDB(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		s := keys.NewStepUpService(db)
		MustCreateOrg(t, db, "acme")
		if p, err := s.FindStepUpPolicy(ctx, ""); err != nil || p != (gatehouse.StepUpPolicy{}) {
			t.Fatalf("default site policy: %+v, %v", p, err)
		}
		site := gatehouse.StepUpPolicy{Level: gatehouse.StepUpWrite, ProtectedOnly: true}
		org := gatehouse.StepUpPolicy{Level: gatehouse.StepUpAll}
		if err := s.SetStepUpPolicy(ctx, "", site); err != nil {
			t.Fatal(err)
		}
		if err := s.SetStepUpPolicy(ctx, "acme", org); err != nil {
			t.Fatal(err)
		}
		if err := s.SetStepUpPolicy(ctx, "nobody", org); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatalf("unknown org: %v", err)
		}
		if err := s.SetStepUpPolicy(ctx, "", gatehouse.StepUpPolicy{Level: 7}); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Fatalf("bad level: %v", err)
		}
		f, err := s.StepUpFacts(ctx, 99, "acme", "192.0.2.1")
		if err != nil || f.Site != site || f.Org != org || f.Enrolled || f.WindowOpen {
			t.Fatalf("facts: %+v, %v", f, err)
		}
		if f, err := s.StepUpFacts(ctx, 99, "someone", ""); err != nil || f.Org != (gatehouse.StepUpPolicy{}) {
			t.Fatalf("facts for a user's namespace: %+v, %v", f, err)
		}
	})
}

// BenchmarkStepUpFacts is what the step-up check adds to an SSH
// operation under a policy: one read transaction.
func BenchmarkStepUpFacts(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b)
	s := keys.NewStepUpService(db)
	MustCreateOrg(b, db, "acme")
	if err := s.SetStepUpPolicy(ctx, "", gatehouse.StepUpPolicy{Level: gatehouse.StepUpWrite}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.StepUpFacts(ctx, 1, "acme", "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
}

// Wrong codes from one IPv6 /64 count as from one address: a guesser
// spreading tries over five users (under each user's bound) and a fresh
// address of the /64 for each try is still stopped at the address bound,
// and so is a right code from that /64 afterwards; another /64 is not.
func TestStepUpService_AddressBoundIPv6(t *testing.T) {
	eachDB(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		s := keys.NewStepUpService(db)
		var secrets [][]byte
		for _, n := range []string{"u0", "u1", "u2", "u3", "u4", "u5"} {
			secret, _ := enrolled(t, db, s, n)
			secrets = append(secrets, secret)
		}
		for i := 1; i <= gatehouse.StepUpMaxAddrFailures; i++ {
			user := []string{"u0", "u1", "u2", "u3", "u4"}[i%5]
			_, err := s.RedeemCode(ctx, user, fmt.Sprintf("2001:db8:1:2::%x", i), "000000", time.Minute)
			want := gatehouse.ErrInvalid
			if i == gatehouse.StepUpMaxAddrFailures {
				want = gatehouse.ErrLimit
			}
			if !errors.Is(err, want) {
				t.Fatalf("wrong code %d: %v", i, err)
			}
		}
		code := totp.Code(secrets[5], totp.Step(db.Now()))
		if _, err := s.RedeemCode(ctx, "u5", "2001:db8:1:2:ffff::1", code, time.Minute); !errors.Is(err, gatehouse.ErrLimit) {
			t.Fatalf("right code from the locked /64: %v", err)
		}
		if _, err := s.RedeemCode(ctx, "u5", "2001:db8:1:3::1", code, time.Minute); err != nil {
			t.Fatalf("right code from another /64: %v", err)
		}
	})
}
