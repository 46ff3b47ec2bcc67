// Package rotation is the operator's transit key rotation workflow, run by
// `brokerctl keys rotate`: RewrapAll brings every secret's current
// ciphertext to the key's latest version inside Vault (batches, a
// checkpoint file, progress, yielding to concurrent writers), and
// RaiseMinDecryptionVersion raises the key's minimum decryption version
// once ScanKeyVersions found that no stored version needs an older one.
//
// It works over Vault, a small interface of Vault primitives that
// *vaultx.Client implements (KV listing and reads, one batch transit
// rewrap, the write of a rewrapped version with check-and-set, the key's
// versions). vaultx stays the only package that speaks to Vault, reads its
// status codes and writes a secret's metadata; rotation holds the policy.
// Errors are coded *broker.Error values, as vaultx returns them.
package rotation
