package gatehouse_test

import (
	"testing"

	"gatehouse"
)

func TestStepUpRequired(t *testing.T) {
	alice := gatehouse.Actor{User: &gatehouse.User{ID: 1, Name: "alice"}}
	deploy := gatehouse.Actor{DeployKey: &gatehouse.DeployKey{RepoID: 10, Write: true}}
	anon := gatehouse.Actor{}
	local := gatehouse.LocalActor("cli")
	off := gatehouse.StepUpPolicy{}
	write := gatehouse.StepUpPolicy{Level: gatehouse.StepUpWrite}
	protected := gatehouse.StepUpPolicy{Level: gatehouse.StepUpWrite, ProtectedOnly: true}
	all := gatehouse.StepUpPolicy{Level: gatehouse.StepUpAll}
	const (
		none = gatehouse.StepUpNone
		need = gatehouse.StepUpNeeded
		prot = gatehouse.StepUpNeededForProtected
	)
	tests := []struct {
		name  string
		p     gatehouse.StepUpPolicy
		actor gatehouse.Actor
		op    gatehouse.Operation
		want  gatehouse.StepUpDemand
	}{
		{"off read", off, alice, gatehouse.OpRead, none},
		{"off push", off, alice, gatehouse.OpWrite, none},
		{"off admin", off, alice, gatehouse.OpAdmin, none},
		{"write read", write, alice, gatehouse.OpRead, none},
		{"write push", write, alice, gatehouse.OpWrite, need},
		{"write create", write, alice, gatehouse.OpCreate, need},
		{"write admin", write, alice, gatehouse.OpAdmin, need},
		{"write unknown op", write, alice, gatehouse.Operation(99), need},
		{"protected-only push", protected, alice, gatehouse.OpWrite, prot},
		{"protected-only admin", protected, alice, gatehouse.OpAdmin, need},
		{"protected-only read", protected, alice, gatehouse.OpRead, none},
		{"all read", all, alice, gatehouse.OpRead, need},
		{"all push", all, alice, gatehouse.OpWrite, need},
		{"deploy key exempt from write", write, deploy, gatehouse.OpWrite, none},
		{"deploy key exempt from all", all, deploy, gatehouse.OpRead, none},
		{"anonymous exempt", all, anon, gatehouse.OpRead, none},
		{"local operator exempt", all, local, gatehouse.OpAdmin, none},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gatehouse.StepUpRequired(tt.p, tt.actor, tt.op); got != tt.want {
				t.Errorf("StepUpRequired = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStepUpPolicyStricter(t *testing.T) {
	off := gatehouse.StepUpPolicy{}
	write := gatehouse.StepUpPolicy{Level: gatehouse.StepUpWrite}
	protected := gatehouse.StepUpPolicy{Level: gatehouse.StepUpWrite, ProtectedOnly: true}
	all := gatehouse.StepUpPolicy{Level: gatehouse.StepUpAll}
	allProtected := gatehouse.StepUpPolicy{Level: gatehouse.StepUpAll, ProtectedOnly: true}
	tests := []struct {
		name      string
		site, org gatehouse.StepUpPolicy
		want      gatehouse.StepUpPolicy
	}{
		{"both off", off, off, off},
		{"site write", write, off, write},
		{"org write", off, write, write},
		{"protected-only alone", off, protected, protected},
		{"protected-only and all pushes", protected, write, write},
		{"all pushes and protected-only", write, protected, write},
		{"both protected-only", protected, protected, protected},
		{"all beats write", write, all, all},
		{"all with protected-only pushes", allProtected, protected, allProtected},
		{"all with every push", allProtected, write, all},
		{"a stray flag on off does nothing", gatehouse.StepUpPolicy{ProtectedOnly: true}, off, off},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.site.Stricter(tt.org); got != tt.want {
				t.Errorf("Stricter = %+v, want %+v", got, tt.want)
			}
			if got := tt.org.Stricter(tt.site); got != tt.want {
				t.Errorf("Stricter (swapped) = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestStepUpRefNeeded(t *testing.T) {
	pbs := []gatehouse.ProtectedBranch{{Pattern: "main"}, {Pattern: "release/*"}}
	tests := []struct {
		ref  string
		want bool
	}{
		{"refs/heads/main", true},
		{"refs/heads/release/1.0", true},
		{"refs/heads/feature", false},
		{"refs/heads/release/1.0/x", false},
		{"refs/tags/main", false},
		{"refs/heads/", false},
	}
	for _, tt := range tests {
		if got := gatehouse.StepUpRefNeeded(pbs, gatehouse.RefUpdate{Name: tt.ref, New: "1"}); got != tt.want {
			t.Errorf("StepUpRefNeeded(%s) = %v, want %v", tt.ref, got, tt.want)
		}
	}
}

func TestParseStepUpLevel(t *testing.T) {
	for _, s := range []string{"off", "write", "all", "WRITE"} {
		l, err := gatehouse.ParseStepUpLevel(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
		}
		b, _ := l.MarshalText()
		var back gatehouse.StepUpLevel
		if err := back.UnmarshalText(b); err != nil || back != l {
			t.Errorf("%s: round trip gave %v, %v", s, back, err)
		}
	}
	if _, err := gatehouse.ParseStepUpLevel("some"); err == nil {
		t.Error("ParseStepUpLevel(some) succeeded")
	}
}
