// snppeer verifies SEV-SNP reports with github.com/google/go-sev-guest, offline: the VCEK or VLEK comes
// with the item, the ASK/ASVK and ARK per product line are the trusted roots the runner passes (the KDS
// cert_chain bundles of snp/_common, which include the ASVKs the library does not embed), and certificate fetching is off.
package main

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"sync"

	"github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"
	"trustgate.local/bench/peers/internal/job"
)

func leafDer(text string) ([]byte, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, fmt.Errorf("endorsement key certificate is not PEM")
	}
	return block.Bytes, nil
}

var (
	rootsMu sync.Mutex
	// Parsed once per distinct trustedRoots text, as a deployment would configure them once.
	rootsByText = map[string]map[string][]*trust.AMDRootCerts{}
)

// trustedRoots turns {"Milan": [KDS cert_chain PEM, ...], ...} into the library's TrustedRoots option; nil (the
// library's embedded AMD roots) when the item names none.
func trustedRoots(text string) (map[string][]*trust.AMDRootCerts, error) {
	if text == "" {
		return nil, nil
	}
	rootsMu.Lock()
	defer rootsMu.Unlock()
	if roots, ok := rootsByText[text]; ok {
		return roots, nil
	}
	var bundles map[string][]string
	if err := json.Unmarshal([]byte(text), &bundles); err != nil {
		return nil, fmt.Errorf("trustedRoots is not a JSON map of PEM bundles: %v", err)
	}
	roots := map[string][]*trust.AMDRootCerts{}
	for productLine, pems := range bundles {
		for _, bundle := range pems {
			root := trust.AMDRootCertsProduct(productLine)
			if err := root.FromKDSCertBytes([]byte(bundle)); err != nil {
				return nil, fmt.Errorf("trusted %s roots: %v", productLine, err)
			}
			roots[productLine] = append(roots[productLine], root)
		}
	}
	rootsByText[text] = roots
	return roots, nil
}

func verifyItem(item job.Item) error {
	raw, err := base64.StdEncoding.DecodeString(item.Fields["report"])
	if err != nil {
		return fmt.Errorf("report is not base64: %v", err)
	}
	report, err := abi.ReportToProto(raw)
	if err != nil {
		return err
	}
	chain := &spb.CertificateChain{}
	if vcek, ok := item.Fields["vcek"]; ok {
		if chain.VcekCert, err = leafDer(vcek); err != nil {
			return err
		}
	}
	if vlek, ok := item.Fields["vlek"]; ok {
		if chain.VlekCert, err = leafDer(vlek); err != nil {
			return err
		}
	}
	roots, err := trustedRoots(item.Fields["trustedRoots"])
	if err != nil {
		return err
	}
	options := &verify.Options{DisableCertFetching: true, Now: item.At, TrustedRoots: roots}
	return verify.SnpAttestation(&spb.Attestation{Report: report, CertificateChain: chain}, options)
}

func main() { job.Run("go-sev-guest", "v0.15.0", verifyItem) }
