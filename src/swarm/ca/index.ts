/** The swarm CA: root CA, node certificates, join tokens, unlock keys (docs/swarm.md "The CA"). */
export {
  type RootCA, type NodeRole, type CertInfo, ROOT_CA_EXPIRY_SECONDS, NODE_CERT_EXPIRY_SECONDS, ROOT_CN, roleOU,
  createRootCA, createKeyAndCsr, issueNodeCert, crossSignRoot, certInfo, tlsInfo, caDigest, derDigest, splitPems, peerIdentity, isSignedBy,
} from './certs.js';
export {
  makeJoinToken, parseJoinToken, newJoinSecret, sameSecret, makeUnlockKey, parseUnlockKey, encryptKey, decryptKey, isEncryptedKey, invalidUnlockKey,
} from './tokens.js';
