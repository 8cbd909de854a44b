package receivepack

import (
	"gatehouse"
	"gatehouse/repos/hooks"
	"gatehouse/repos/indexpack"
	"gatehouse/repos/pktline"
)

// runHooks runs the pre-receive and update hooks, as git does, on the
// commands still standing after the checks, before the repository lock is
// taken: a hook may be slow, and reads of the repository go on meanwhile.
// The hooks read the pack's objects from the quarantine. A pre-receive
// refusal refuses every standing command; an update refusal, its ref (and
// an atomic push with it).
func (s *session) runHooks(cmds *commands, inc *indexpack.Incoming) {
	h := s.opts.Hooks
	if !h.Has(hooks.PreReceive) && !h.Has(hooks.Update) {
		return
	}
	var stand []int32
	for i := range cmds.len() {
		if cmds.ok(i) {
			stand = append(stand, int32(i))
		}
	}
	if len(stand) == 0 {
		return
	}
	s.prepareHooks()
	quarantine := ""
	if inc != nil {
		quarantine = inc.ObjectDir()
	}
	us := make([]gatehouse.RefUpdate, len(stand))
	for k, i := range stand {
		us[k] = cmds.update(int(i))
	}
	if err := h.PreReceive(s.ctx, quarantine, us); err != nil {
		for _, i := range stand {
			cmds.refuse(int(i), reasonPreReceive)
		}
		return
	}
	for k, i := range stand {
		if err := h.Update(s.ctx, quarantine, us[k]); err != nil {
			cmds.refuse(int(i), reasonUpdateHook)
		}
	}
	s.atomicFail(cmds)
}

// runPostReceive runs the post-receive hooks on the refs that moved,
// after the report, as git does; their output still reaches the client.
func (s *session) runPostReceive(updated gatehouse.RefUpdates) {
	if updated.Len() == 0 || !s.opts.Hooks.Has(hooks.PostReceive) {
		return
	}
	s.prepareHooks()
	s.opts.Hooks.PostReceive(s.ctx, updated.List())
	s.opts.Hooks.Wait()
}

// prepareHooks gives the hooks the push options and, when the client
// demultiplexes side-band, its progress channel for their output (git
// shows it as "remote:" lines, even to a quiet push).
func (s *session) prepareHooks() {
	h := s.opts.Hooks
	h.Options = s.options
	if s.sideBand && h.Out == nil {
		h.Out = &flushingWriter{w: pktline.NewBand(s.pw, pktline.BandProgress, pktline.MaxLine), bw: s.out}
	}
}
