export * from './app';
export * from './config';
export * from './read-model';
export * from './service';
