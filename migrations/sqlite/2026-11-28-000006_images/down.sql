DROP TABLE image_members;
DROP TABLE image_tags;
DROP TABLE image_properties;
DROP TABLE images;
