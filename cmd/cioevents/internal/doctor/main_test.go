package doctor_test

import (
	"testing"

	"github.com/cioevents/cioevents/internal/testsupport/emulator"
)

// The deployed checks confirm Pub/Sub names through the Pub/Sub emulator.
func TestMain(m *testing.M) { emulator.Main(m, emulator.PubSub) }
