import { createInMemoryStore } from './in-memory-ports';
import { projectionStoreContract } from './projection-store-contract';

describe('the in-memory projection store the unit tests use', () => {
  projectionStoreContract(async () => {
    const store = createInMemoryStore();
    return { store, rows: async () => new Map(store.rows) };
  });
});
