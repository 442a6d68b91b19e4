import { NFT_KEYWORDS } from '../../nft/names.js';
import { error, type Rule } from './rule.js';

// nft refuses keywords as table names, even quoted.
export const tableName: Rule = ({ model }) =>
  NFT_KEYWORDS.has(model.table)
    ? [error('/table', 'table.keyword', `"${model.table}" is an nft keyword; choose another table name`)]
    : [];
