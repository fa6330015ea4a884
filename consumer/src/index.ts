export * from './app';
export * from './config';
export * from './migrate';
export * from './projector';
export * from './projection-store';
export * from './read-model-version';
export * from './rebuild';
