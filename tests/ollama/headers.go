//go:build headers

// Package headers is never compiled: its import keeps the module that ships
// miniaudio.h in go.mod and go.sum, so build.sh can put that header on the
// include path (Go module zips omit llama.cpp's vendor/ folders).
package headers

import _ "github.com/gen2brain/malgo"
