// tdxpeer verifies TDX quotes with github.com/google/go-tdx-guest, offline: the PCS and CRL requests
// the library makes are answered from the item's own collateral, at the item's verification time.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/go-tdx-guest/verify"
	"trustgate.local/bench/peers/internal/job"
)

// collateralGetter serves Intel PCS v4 responses from an item: the bodies as PCS sends them and the
// issuer chains URL-escaped in the headers PCS uses. Any other URL is the root CA CRL (its distribution point).
type collateralGetter struct{ fields map[string]string }

func (g collateralGetter) field(name string) (string, error) {
	value, ok := g.fields[name]
	if !ok || value == "" {
		return "", fmt.Errorf("offline: the item has no %s", name)
	}
	return value, nil
}

func (g collateralGetter) signedBody(key, textField, signatureField string) ([]byte, error) {
	text, err := g.field(textField)
	if err != nil {
		return nil, err
	}
	signature, err := g.field(signatureField)
	if err != nil {
		return nil, err
	}
	sig, _ := json.Marshal(signature)
	return []byte(`{"` + key + `":` + text + `,"signature":` + string(sig) + `}`), nil
}

func (g collateralGetter) chainHeader(name, field string) (map[string][]string, error) {
	chain, err := g.field(field)
	if err != nil {
		return nil, err
	}
	return map[string][]string{name: {url.QueryEscape(chain)}}, nil
}

func (g collateralGetter) der(field string) ([]byte, error) {
	value, err := g.field(field)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(value)
}

func (g collateralGetter) Get(address string) (map[string][]string, []byte, error) {
	switch {
	case strings.Contains(address, "/tcb?"):
		header, err := g.chainHeader("Tcb-Info-Issuer-Chain", "tcbInfoIssuerChain")
		if err != nil {
			return nil, nil, err
		}
		body, err := g.signedBody("tcbInfo", "tcbInfo", "tcbInfoSignature")
		return header, body, err
	case strings.HasSuffix(address, "/qe/identity"):
		header, err := g.chainHeader("Sgx-Enclave-Identity-Issuer-Chain", "qeIdentityIssuerChain")
		if err != nil {
			return nil, nil, err
		}
		body, err := g.signedBody("enclaveIdentity", "qeIdentity", "qeIdentitySignature")
		return header, body, err
	case strings.Contains(address, "/pckcrl?"):
		header, err := g.chainHeader("Sgx-Pck-Crl-Issuer-Chain", "pckCrlIssuerChain")
		if err != nil {
			return nil, nil, err
		}
		body, err := g.der("pckCrl")
		return header, body, err
	default:
		body, err := g.der("rootCaCrl")
		return map[string][]string{}, body, err
	}
}

func verifyItem(item job.Item) error {
	quote, err := base64.StdEncoding.DecodeString(item.Fields["quote"])
	if err != nil {
		return fmt.Errorf("quote is not base64: %v", err)
	}
	options := &verify.Options{
		CheckRevocations: true,
		GetCollateral:    true,
		Getter:           collateralGetter{fields: item.Fields},
		Now:              item.At,
	}
	return verify.RawTdxQuote(quote, options)
}

func main() { job.Run("go-tdx-guest", "v0.3.1", verifyItem) }
