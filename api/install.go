package api

import "time"

// InstallPreview describes a package fetched for approval: what it is, who signed
// it and what it would be allowed to do once installed. Nothing is
// installed until it is approved.
type InstallPreview struct {
	ID          string              `json:"id"`
	Ref         string              `json:"ref"`
	Expires     time.Time           `json:"expires"`
	Name        string              `json:"name"`
	Version     string              `json:"version"`
	Kind        string              `json:"kind"`
	Description string              `json:"description,omitempty"`
	Size        int                 `json:"size"`
	Digest      string              `json:"digest"` // the package's module digest (signatures left out)
	Signature   SignatureVerdict    `json:"signature"`
	Publisher   string              `json:"publisher"` // the trusted publisher, else the signer's own name, else ""
	Caps        []CapabilityRequest `json:"capabilities"`
	Triggers    []string            `json:"triggers"`
	Exports     []string            `json:"exports"`
	Deps        []string            `json:"dependencies"`
	Installed   string              `json:"installed"`   // the version of this module installed now, if any
	Installable bool                `json:"installable"` // approving would install it
	Problems    []string            `json:"problems"`    // why it is not installable, and warnings
}

// SignatureVerdict is a preview's signature verdict.
type SignatureVerdict struct {
	Signed  bool     `json:"signed"`
	Trusted bool     `json:"trusted"`
	Verdict string   `json:"verdict"`
	Signers []Signer `json:"signers"`
}

// Signer is one signature of a package.
type Signer struct {
	Signer    string `json:"signer"` // the name the signer gave itself (authenticated, trusted by nothing)
	KeyID     string `json:"key_id"`
	Status    string `json:"status"`
	Publisher string `json:"publisher,omitempty"` // the trust policy's name for the key
}

// CapabilityRequest is one thing a package asks for, and whether an installed
// module gets it.
type CapabilityRequest struct {
	Name    string `json:"name"`
	Granted bool   `json:"granted"`
	Note    string `json:"note,omitempty"`
}

// Installed is the result of approving a preview: the module installed
// and the process that runs it.
type Installed struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
	Process string `json:"process"`
	State   State  `json:"state"` // running, starting, or idle when it waits for a trigger
}
