// nftlb's version, printed by --version and written into every script header.
export const VERSION = '0.1.0';
