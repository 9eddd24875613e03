// Package fttest provides in-memory fakes of ft.Lock and ft.Beacon with
// fault hooks, and a Group harness of N electors wired to them, for tests
// of the elector (ideally inside testing/synctest bubbles: nothing here
// does real I/O, and every wait is on channels, mutexes or timers).
package fttest
