package pop3

import "time"

// SetSyncClock makes Sync read the time from now until the returned function is called.
func SetSyncClock(now func() time.Time) (restore func()) {
	old := syncNow
	syncNow = now
	return func() { syncNow = old }
}

// SetCommitEvery makes p commit every n delivered messages.
func SetCommitEvery(p *SyncPlan, n int) { p.commitEvery = n }

// ParseSyncFile and FormatSyncFile expose the file format to the tests.
var (
	ParseSyncFile  = parseSyncFile
	FormatSyncFile = formatSyncFile
)
