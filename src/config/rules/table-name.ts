import { tableNameProblem } from '../../nft/tables.js';
import { error, type Rule } from './rule.js';

// The table name (and its DSR companion's) goes into every nft command nftlb sends; refuse here, with the line, what
// nft would refuse there.
export const tableName: Rule = ({ model }) => {
  const why = tableNameProblem(model.table);
  if (why === undefined) return [];
  return [
    error(
      '/table',
      why.includes('keyword') ? 'table.keyword' : 'table.name',
      `"${model.table}" cannot be a table name: ${why}; choose another name`,
    ),
  ];
};
