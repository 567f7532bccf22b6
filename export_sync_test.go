package pop3

import "time"

// SetSyncClock makes Sync read the time from now until the returned function is called.
func SetSyncClock(now func() time.Time) (restore func()) {
	old := syncNow
	syncNow = now
	return func() { syncNow = old }
}

// SetSyncCommitEvery makes Sync commit every n delivered messages until the returned
// function is called.
func SetSyncCommitEvery(n int) (restore func()) {
	old := syncCommitEvery
	syncCommitEvery = n
	return func() { syncCommitEvery = old }
}

// ParseSyncFile and FormatSyncFile expose the file format to the tests.
var (
	ParseSyncFile  = parseSyncFile
	FormatSyncFile = formatSyncFile
)
