package jobs_test

import (
	"os"
	"testing"

	"github.com/parleyhq/parley/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
