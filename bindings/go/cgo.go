package futures

// Where cgo finds the library. The header comes from the repository's
// include/ directory; the caller says where libfutures.so is, e.g.
//
//	CGO_LDFLAGS="-L<build>/cargo/release -Wl,-rpath,<build>/cargo/release"
//
// (see the package documentation). The C helpers live in futures_go.c.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -lfutures
*/
import "C"
