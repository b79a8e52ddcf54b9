-- Run once by the postgres image (and berth's recipe) on a new data folder.
CREATE DATABASE app_test;
