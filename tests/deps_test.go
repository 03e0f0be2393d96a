package tests

// The tests run the streamsql binary, which TestMain builds; these imports
// make the packages it is built from part of this package's build, so that
// `go test` does not reuse cached results after they change.
import (
	_ "github.com/streamsql/streamsql/planner"
	_ "github.com/streamsql/streamsql/sources/streamstore"
	_ "github.com/streamsql/streamsql/wire"
)
