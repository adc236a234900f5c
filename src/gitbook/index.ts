/** The GitBook REST client and its errors. */
export * from './client';
export * from './errors';
