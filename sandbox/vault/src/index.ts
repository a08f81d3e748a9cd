export { createCertificateAuthority, LeafCertificateIssuer } from './ca';
export type { CertificateAuthority, IssuedCertificate } from './ca';
export { loadVaultConfig, VaultConfigError } from './config';
export type { VaultConfig } from './config';
export { startVault } from './vault';
export type { RunningVault } from './vault';
