// The Go app of the reload benchmark: a net/http server that answers every
// request with the version below. The bench rewrites that line on each edit;
// the app must be rebuilt (go build) and restarted to serve the new text.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

const version = "v0"

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("serving", version)
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, version)
	}))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
