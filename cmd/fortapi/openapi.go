package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/fortapi/fortapi/server/app"
)

const openapiHelp = `Prints the OpenAPI 3.1 document of the reference server (the same one
it serves at /openapi.json), indented, to stdout.
`

func runOpenAPI(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c := newCommand("openapi", openapiHelp)
	if code, ok := c.parse(args, getenv, stdout, stderr); !ok {
		return code
	}
	doc, err := app.Document(app.Config{Version: version(), Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		var buf bytes.Buffer
		if err = json.Indent(&buf, doc, "", "  "); err == nil {
			buf.WriteByte('\n')
			_, err = stdout.Write(buf.Bytes())
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "fortapi openapi: %v\n", err)
		return exitError
	}
	return exitOK
}
