package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/client"
)

// Example stores a secret and provisions a runtime that gets it. It needs a
// running broker (BROKER_URL, BROKER_API_KEY), so it is compiled, not run.
func Example() {
	c, err := client.New(os.Getenv("BROKER_URL"), os.Getenv("BROKER_API_KEY"), client.WithTimeout(10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The Idempotency-Key makes the POST safe to retry: the client retries it
	// after a 503 or a lost connection, and the broker never runs it twice.
	sec, err := c.CreateSecret(ctx, client.CreateSecretRequest{Name: "OPENAI_API_KEY", Value: os.Getenv("OPENAI_API_KEY")},
		client.IdempotencyKey("create-openai-key-1"))
	switch {
	case broker.IsCode(err, broker.CodeConflict):
		log.Fatal("a secret named OPENAI_API_KEY exists already")
	case err != nil:
		log.Fatal(err)
	}
	rt, err := c.CreateRuntime(ctx, client.CreateRuntimeRequest{ProjectID: "demo", SecretIDs: []string{sec.ID}})
	if err != nil {
		log.Fatal(err)
	}
	// Hand rt.Sandbox.Bootstrap to the sandbox's init container; never log its token.
	fmt.Println(rt.ID, rt.Sandbox.Bootstrap.EnvNames)
}

// ExampleAPIError shows how an error answer comes back: a coded broker error
// for branching, and the envelope's details for people. A stand-in server
// answers as the broker does to an invalid create.
func ExampleAPIError() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = io.WriteString(w, `{"code":422,"type":"validation_error","detail":"name: must be an env var name",`+
			`"errors":[{"field":"name","message":"must be an env var name"}]}`)
	}))
	defer srv.Close()

	c, _ := client.New(srv.URL, "sbk_example")
	_, err := c.CreateSecret(context.Background(), client.CreateSecretRequest{Name: "1x", Value: "v"})

	fmt.Println(broker.ErrorCode(err))
	var ae *client.APIError
	if errors.As(err, &ae) {
		fmt.Println(ae.Status, ae.Fields[0].Field)
	}
	fmt.Println(err)
	// Output:
	// invalid
	// 422 name
	// name: must be an env var name [validation_error 422]
}
