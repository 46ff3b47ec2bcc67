package inproc

// StoreSizes counts what a Store holds, for tests of its memory bounds.
type StoreSizes struct{ Runtimes, Users, Evaluations, Accessors int }

// Sizes reports what s holds.
func Sizes(s *Store) StoreSizes {
	s.mu.Lock()
	defer s.mu.Unlock()
	return StoreSizes{len(s.runtimes), len(s.byUser), len(s.evaluations), len(s.accessors)}
}
