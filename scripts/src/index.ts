export * from './infra';
export * from './k8s';
