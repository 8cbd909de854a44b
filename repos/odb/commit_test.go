package odb_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

const (
	treeID   = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
	parentID = "0123456789abcdef0123456789abcdef01234567"
)

func TestParseCommit(t *testing.T) {
	good := "tree " + treeID + "\nparent " + parentID + "\nparent " + treeID +
		"\nauthor A U <a@x> 1700000000 +0100\ncommitter C <c@x> 1700000123 -0700\ngpgsig x\n\nmsg\n"
	c, err := odb.ParseCommit([]byte(good))
	if err != nil || c.Tree != plumbing.NewHash(treeID) || len(c.Parents) != 2 || c.Parents[0] != plumbing.NewHash(parentID) || c.When != 1700000123 {
		t.Fatalf("ParseCommit = %+v, %v", c, err)
	}
	author, committer, msg := odb.CommitText([]byte(good))
	if string(author.Name) != "A U" || string(author.Email) != "a@x" || author.When != 1700000000 || author.Zone != 3600 ||
		string(committer.Name) != "C" || committer.Zone != -7*3600 || string(msg) != "msg\n" {
		t.Errorf("CommitText = %+v, %+v, %q", author, committer, msg)
	}
	if got := committer.Time().Format("2006-01-02T15:04:05-07:00"); got != "2023-11-14T15:15:23-07:00" {
		t.Errorf("committer time %s", got)
	}
	for _, bad := range []string{
		"",
		"parent " + parentID + "\n",
		"tree " + strings.ToUpper(treeID) + "\nauthor A <a> 1 +0000\ncommitter C <c> 1 +0000\n",
		"tree " + treeID + "\ncommitter C <c> 1 +0000\n",
		"tree " + treeID + "\nauthor A <a> 1 +0000\n",
		"tree " + treeID + "\nauthor A <a> 1 +0000\ncommitter C <c> x +0000\n",
		"tree " + treeID + "\nauthor A <a> 1 +0000\ncommitter C <c> 1 +00\n",
		"tree " + treeID + "\nauthor A <a> 1 +0000\ncommitter C c 1 +0000\n",
		"tree " + treeID + "\nauthor A <a> 1 +0000\ncommitter C <c> 1 +-100\n",
		"tree " + treeID + "\x00\nauthor A <a> 1 +0000\ncommitter C <c> 1 +0000\n",
	} {
		if _, err := odb.ParseCommit([]byte(bad)); !errors.Is(err, odb.ErrCorrupt) {
			t.Errorf("ParseCommit(%q): %v, want ErrCorrupt", bad, err)
		}
	}
}

func TestParseTag(t *testing.T) {
	good := "object " + parentID + "\ntype commit\ntag v1\ntagger T <t@x> 1 +0000\n\nmsg\n"
	id, typ, err := odb.ParseTag([]byte(good))
	if err != nil || id != plumbing.NewHash(parentID) || typ != plumbing.CommitObject {
		t.Fatalf("ParseTag = %s, %s, %v", id, typ, err)
	}
	if _, _, err := odb.ParseTag([]byte("object " + parentID + "\ntype tree\ntag v1")); err != nil {
		t.Errorf("a tag without tagger: %v", err)
	}
	for _, bad := range []string{
		"object " + parentID + "\ntype commit\n",
		"type commit\nobject " + parentID + "\ntag v1\n",
		"object " + parentID + "\ntype thing\ntag v1\n",
		"object " + parentID + "\ntype commit\ntag \n",
		"object " + parentID + "\ntype commit\ntag v1\ntagger T 1 +0000\n",
	} {
		if _, _, err := odb.ParseTag([]byte(bad)); !errors.Is(err, odb.ErrCorrupt) {
			t.Errorf("ParseTag(%q): %v, want ErrCorrupt", bad, err)
		}
	}
}
