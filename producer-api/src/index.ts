export * from './app';
export * from './config';
export * from './publisher';
export * from './service';
export * from './schema-registration';
