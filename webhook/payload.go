package webhook

import (
	"strings"

	"gatehouse"
)

// Payloads in GitHub's shape, so that receivers written for GitHub read
// them; the fields are the ones GitHub's documentation gives the same
// names.

// PushPayload is a push event's body: one per ref moved.
type PushPayload struct {
	Ref        string     `json:"ref"`
	Before     string     `json:"before"`
	After      string     `json:"after"`
	Created    bool       `json:"created"`
	Deleted    bool       `json:"deleted"`
	Forced     bool       `json:"forced"`
	Commits    []Commit   `json:"commits"`
	HeadCommit *Commit    `json:"head_commit"`
	Repository Repository `json:"repository"`
	Pusher     Pusher     `json:"pusher"`
	Sender     Sender     `json:"sender"`
}

// Repository is the repository every payload names.
type Repository struct {
	Name          string `json:"name"`
	FullName      string `json:"full_name"`
	Owner         Owner  `json:"owner"`
	Private       bool   `json:"private"`
	Visibility    string `json:"visibility"`
	Description   string `json:"description"`
	SSHURL        string `json:"ssh_url"`
	DefaultBranch string `json:"default_branch"`
}

// Owner, Pusher and Sender are GitHub's user objects, cut down.
type Owner struct {
	Login string `json:"login"`
}

type Pusher struct {
	Name string `json:"name"`
}

type Sender struct {
	Login string `json:"login"`
}

// RefPayload is a create or delete event's body.
type RefPayload struct {
	Ref          string     `json:"ref"`
	RefType      string     `json:"ref_type"` // branch or tag
	MasterBranch string     `json:"master_branch"`
	PusherType   string     `json:"pusher_type"`
	Repository   Repository `json:"repository"`
	Sender       Sender     `json:"sender"`
}

// RepositoryPayload is a repository event's body.
type RepositoryPayload struct {
	Action     string         `json:"action"` // created, deleted, renamed, publicized, privatized, edited
	Changes    map[string]any `json:"changes,omitempty"`
	Repository Repository     `json:"repository"`
	Sender     Sender         `json:"sender"`
}

// MemberPayload is a member event's body: a collaborator (Member) or a
// team (Team, "org/team") added or removed.
type MemberPayload struct {
	Action     string     `json:"action"` // added, removed
	Member     *Owner     `json:"member,omitempty"`
	Team       *Team      `json:"team,omitempty"`
	Permission string     `json:"permission,omitempty"`
	Repository Repository `json:"repository"`
	Sender     Sender     `json:"sender"`
}

// Team names a team granted on a repository.
type Team struct {
	Name         string `json:"name"`
	Slug         string `json:"slug"`
	Organization string `json:"organization"`
}

func repository(r *gatehouse.Repo, sshBase *string) Repository {
	out := Repository{
		Name: r.Name, FullName: r.FullName(), Owner: Owner{Login: r.Owner},
		Private: r.Private, Visibility: r.Visibility(), Description: r.Description,
		DefaultBranch: r.DefaultBranch,
	}
	if sshBase != nil {
		out.SSHURL = *sshBase + r.FullName() + ".git"
	}
	return out
}

func refPayload(e gatehouse.Event, r *gatehouse.Repo, sshBase *string) *RefPayload {
	ref, typ := e.Ref.Name, "branch"
	if t, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		ref, typ = t, "tag"
	} else {
		ref = strings.TrimPrefix(ref, "refs/heads/")
	}
	return &RefPayload{Ref: ref, RefType: typ, MasterBranch: r.DefaultBranch, PusherType: "user",
		Repository: repository(r, sshBase), Sender: Sender{Login: e.Actor.Name()}}
}

func repositoryPayload(e gatehouse.Event, action string, r *gatehouse.Repo, sshBase *string) *RepositoryPayload {
	p := &RepositoryPayload{Action: action, Repository: repository(r, sshBase), Sender: Sender{Login: e.Actor.Name()}}
	if action == "renamed" {
		owner, name, _ := strings.Cut(e.Subject, "/")
		p.Changes = map[string]any{"repository": map[string]any{
			"name":  map[string]string{"from": name},
			"owner": map[string]any{"from": map[string]string{"login": owner}},
		}}
	}
	return p
}

func memberPayload(e gatehouse.Event, action string, r *gatehouse.Repo, sshBase *string) *MemberPayload {
	p := &MemberPayload{Action: action, Repository: repository(r, sshBase), Sender: Sender{Login: e.Actor.Name()}}
	if action == "added" {
		p.Permission = e.Level.String()
	}
	if org, team, ok, _ := gatehouse.ParseTeamRef(e.Subject, true); ok {
		p.Team = &Team{Name: team, Slug: team, Organization: org}
	} else {
		p.Member = &Owner{Login: e.Subject}
	}
	return p
}
